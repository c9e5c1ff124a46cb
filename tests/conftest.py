"""Shared fixtures: the built book, and one nbgrader autograde run per assignment."""

import os
from concurrent.futures import ThreadPoolExecutor

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


# Assignments whose autograde run the selected tests need (filled at collection).
NEEDED = set()


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected: only what will run
def pytest_collection_modifyitems(items):
    for item in items:
        if "graded" in getattr(item, "fixturenames", ()) and hasattr(item, "callspec"):
            NEEDED.add(item.callspec.params["assignment"])


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
def graded(tmp_path_factory):
    """``graded(assignment)`` -> (course root, student -> Scores), autograding every submission once.

    The class: the reference solutions, the untouched release, and one student per mutant-table entry.
    nbgrader grades one submission at a time, so the first call starts every needed assignment's run,
    two at once (one per core), the largest classes first.
    """
    pool = ThreadPoolExecutor(max_workers=2)
    runs = {}

    def grade(assignment):
        if not runs:
            for name in sorted(NEEDED | {assignment}, key=lambda a: -len(entries(a))):
                runs[name] = pool.submit(_grade_class, tmp_path_factory.mktemp(name), name)
        if assignment not in runs:
            runs[assignment] = pool.submit(_grade_class, tmp_path_factory.mktemp(assignment), assignment)
        return runs[assignment].result()

    yield grade
    pool.shutdown(cancel_futures=True)


BUILD = grading.REPO / "_build" / "html"


def toc_pages():
    toc = yaml.safe_load((grading.REPO / "_toc.yml").read_text())
    pages = [toc["root"]]
    for entry in toc.get("chapters", []):
        pages.append(entry["file"])
    return pages


@pytest.fixture(scope="session")
def book():
    """Build the book exactly as `make book` does; returns page name -> HTML."""
    # --all re-reads and re-executes every page, so an earlier incremental build cannot hide a failing one.
    grading.run([grading.BIN / "jupyter-book", "build", ".", "--all", "--warningiserror", "--nitpick", "--keep-going"],
                cwd=grading.REPO, timeout=1200)
    return {page: (BUILD / f"{page}.html").read_text() for page in toc_pages()}
