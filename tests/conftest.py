"""Shared fixtures: the built book, and one nbgrader autograde run per assignment."""

import contextlib
import fcntl
import os
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

import grading
from mutants import entries


# The tests build scratch courses with their own SQLite gradebooks: never an instructor's real database.
os.environ.pop("NBGRADER_DB_URL", None)
# nbgrader runs alembic by name: the environment's bin/ first on PATH, also when pytest is run without `make test`.
os.environ["PATH"] = grading.classroom.tool_env()["PATH"]


def student_id(entry):
    return f"{entry.kind}-{entry.target}-{entry.name}"


# `make test` runs the suite in two pytest-xdist workers (`-n 2`), one per core, each given whole groups (below).
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
# Tests whose bounds assume the machine to themselves: with two workers they run while no other test runs. The killed
# grader's ("the round ends within 120 s of the kill", "every kernel started since the round began is the round's")
# and the hostile round's (5 s cell time-outs; the machine's free memory before and after).
ALONE_FILES = ("tests/test_killed_grader.py",)
ALONE_FIXTURES = ("graded_round",)
# Files whose tests read the book that the `book` fixture builds into _build/html.
BOOK_FILES = ("tests/test_book.py", "tests/test_browser.py", "tests/test_publish.py", "tests/test_spanish_edition.py")
# What goes first: the tests that run alone (so that the other worker waits for them at most once, at the start),
# then every other group, longest first, so that neither worker is left with a long one at the end (xdist hands the
# next group to whichever worker is free). The lengths: seconds each group took in a fresh-clone run of `make test`
# on 2 cores (set-up, calls and tear-downs; a graded class is its assignment's autograding). Only the order depends
# on them: a group that is not listed counts 3 s per graded submission, or nothing.
FIRST = ("tests/test_hostile_submissions.py", "tests/test_killed_grader.py")
GROUP_SECONDS = {"book": 597, "graded-07-softcap-triton": 298, "graded-06-softcap-gpu": 229,
                 "tests/test_parallel_grading.py": 211, "graded-08-vocab-parallel": 138, "graded-04-temperature": 135,
                 "graded-05-softcap": 95, "tests/test_instructor_workflow.py": 65, "graded-02-logsumexp": 50,
                 "graded-01-softmax": 46, "graded-03-cross-entropy": 44, "tests/test_grading_benchmark.py": 33,
                 "tests/test_benchmark.py": 28, "tests/test_inert_output_in_a_browser.py": 20,
                 "tests/test_grading_protection.py": 15, "tests/test_gpu_compile.py": 10, "tests/test_translations.py": 9}


def group_of(nodeid):
    """The group a test runs in, on one worker, in collection order: what shares an expensive set-up runs once.

    An assignment's grading tests share its autograded class; the book's tests share its build; otherwise a file
    (its module-scoped fixtures; a notebook's cells, which nbval runs in order in one kernel)."""
    path, _, rest = nodeid.partition("::")
    assignment = re.match(r"[^\[]*\[(\d\d-[a-z-]+)", rest)
    if path == "tests/test_grading.py" and assignment:
        return f"graded-{assignment[1]}"
    return "book" if path in BOOK_FILES else path


def pytest_xdist_make_scheduler(config, log):
    """xdist's loadscope scheduling, by group_of (its loadgroup marks do not reach pytest 9's node ids)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return group_of(nodeid)

    return ByGroup(config, log)


def _needs(item, fixture):
    return fixture in getattr(item, "fixturenames", ())


def _runs_alone(item):
    return item.nodeid.startswith(ALONE_FILES) or any(_needs(item, fixture) for fixture in ALONE_FIXTURES)


def _order(item):
    group = group_of(item.nodeid)
    if group.startswith(FIRST):
        return (0, FIRST.index(next(f for f in FIRST if group.startswith(f))), group)
    seconds = GROUP_SECONDS.get(group)
    if seconds is None and group.startswith("graded-"):
        seconds = 3 * len(entries(group.removeprefix("graded-")))
    return (1, -(seconds or 0), group)


# The tests of this run that run alone, group -> node ids (every worker collects the same tests).
_ALONE = {}


def pytest_collection_modifyitems(items):
    # Stable: the order within a group stays (xdist runs the groups in this order), but a group's tests that run
    # alone go first, so that the other worker waits only for them, not for the rest of their group.
    items.sort(key=lambda item: (_order(item), not _runs_alone(item)))
    for item in items:
        if _runs_alone(item):
            _ALONE.setdefault(group_of(item.nodeid), set()).add(item.nodeid)


def _grade_class(root, assignment):
    """Release ``assignment`` in a scratch course at ``root`` and autograde its whole class there."""
    grading.make_course(root, [assignment])
    reference = grading.solution_sources(assignment)
    submissions = {"solution": grading.submission(assignment, reference),
                   "blank": grading.submission(assignment, {})}
    for entry in entries(assignment):
        submissions[student_id(entry)] = grading.submission(assignment, {**reference, entry.target: entry.source})
    return root, grading.autograde(root, assignment, submissions)


@pytest.fixture(scope="session")
def graded(request, tmp_path_factory):
    """``graded(assignment)`` -> (course root, student -> Scores), autograding every submission once.

    The class: the reference solutions, the untouched release, and one student per mutant-table entry.
    nbgrader grades one submission at a time. In one pytest process the first call starts every needed assignment's
    run, two at once (one per core), the largest classes first; in an xdist worker (the other core runs the other
    worker) each class is graded when its group's first test asks for it.
    """
    pool = ThreadPoolExecutor(max_workers=1 if XDIST_WORKER else 2)
    runs = {}

    def grade(assignment):
        if not runs and not XDIST_WORKER:
            needed = {item.callspec.params["assignment"] for item in request.session.items
                      if _needs(item, "graded") and hasattr(item, "callspec")}
            for name in sorted(needed | {assignment}, key=lambda a: -len(entries(a))):
                runs[name] = pool.submit(_grade_class, tmp_path_factory.mktemp(name), name)
        if assignment not in runs:
            runs[assignment] = pool.submit(_grade_class, tmp_path_factory.mktemp(assignment), assignment)
        return runs[assignment].result()

    yield grade
    pool.shutdown(cancel_futures=True)


def _shared_file(name):
    """A file that every worker of this run shares."""
    return Path(tempfile.gettempdir()) / f"softcap-suite-{os.environ['PYTEST_XDIST_TESTRUNUID']}.{name}"


def pytest_configure(config):
    """The run's id, chosen here (xdist would choose one itself) so that the run's shared files can be removed."""
    if not XDIST_WORKER and getattr(config.option, "numprocesses", None) and config.option.testrunuid is None:
        import uuid

        config.option.testrunuid = uuid.uuid4().hex


def pytest_unconfigure(config):
    """The workers' shared files go once the workers have ended: nothing of a run stays in the temporary folder."""
    run = getattr(config.option, "testrunuid", None)
    if not XDIST_WORKER and run:
        for path in Path(tempfile.gettempdir()).glob(f"softcap-suite-{run}.*"):
            path.unlink(missing_ok=True)


def _lock(name, exclusive):
    """An flock on a file that every worker of this run shares; released when the file is closed."""
    handle = open(_shared_file(name), "a")
    fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    return handle


def _wait_for_the_tests_that_run_alone():
    """Wait while a group of tests that run alone is under way (those groups are scheduled first, one per worker): a
    single wait at the start, instead of each of their tests waiting for whatever long test (a class's autograding,
    the book's build) the other worker has just begun. A group that has not started is not waited for: it may be
    queued behind this test on the same worker (a worker runs its groups one after the other)."""
    started, done = _shared_file("alone-started"), _shared_file("alone-done")

    def lines(path):
        return set(path.read_text().splitlines()) if path.exists() else set()

    while any(not _ALONE[group] <= lines(done) for group in lines(started) if group in _ALONE):
        time.sleep(0.5)


def _note(name, line):
    with open(_shared_file(name), "a") as handle:  # one short line: an atomic append
        handle.write(line + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """With two workers, a test that runs alone waits for the other worker's current test to end, and keeps the next
    one waiting until it is done (a readers-writer lock; the turnstile stops a stream of other tests from starving it).
    Held over set-up, call and tear-down: a fixture's work counts as the test's."""
    if not XDIST_WORKER:
        yield
        return
    alone, group = _runs_alone(item), group_of(item.nodeid)
    if alone:
        _note("alone-started", group)
    if group not in _ALONE:  # a group with tests that run alone runs in its own order, on its own worker
        _wait_for_the_tests_that_run_alone()
    with contextlib.ExitStack() as held:
        turnstile = held.enter_context(_lock("turnstile", exclusive=True))
        if alone:
            held.enter_context(_lock("machine", exclusive=True))
        else:
            turnstile.close()
            held.enter_context(_lock("machine", exclusive=False))
        try:
            yield
        finally:
            if alone:
                _note("alone-done", item.nodeid)


BUILD = grading.REPO / "_build" / "html"


def toc_pages():
    toc = yaml.safe_load((grading.REPO / "_toc.yml").read_text())
    pages = [toc["root"]]
    for entry in toc.get("chapters", []):
        pages.append(entry["file"])
    return pages


@pytest.fixture(scope="session")
def book():
    """Build the book exactly as `make book` does, in English and in Spanish (_build/html/es); returns the English
    edition's page name -> HTML."""
    # Both builds re-read and re-execute every page, so an earlier incremental build cannot hide a failing one.
    grading.run([grading.BIN / "python", "-m", "softcap_course.book.editions"], cwd=grading.REPO, timeout=2400)
    return {page: (BUILD / f"{page}.html").read_text() for page in toc_pages()}


@pytest.fixture(scope="session")
def spanish_book(book):
    """The Spanish edition of the same build: page name -> HTML."""
    return {page: (BUILD / "es" / f"{page}.html").read_text() for page in toc_pages()}


@pytest.fixture(scope="session", params=["en", "es"])
def edition(request, book, spanish_book):
    """Each edition in turn, for the checks that hold in both: (its folder, page name -> HTML)."""
    return (BUILD, book) if request.param == "en" else (BUILD / "es", spanish_book)

