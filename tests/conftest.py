"""Shared fixtures: the built book, and one nbgrader autograde run per assignment."""

import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import yaml

import grade_classes
import grading
from softcap_course.grading import classroom

HERE = Path(__file__).resolve().parent


# The tests build scratch courses with their own SQLite gradebooks: never an instructor's real database.
os.environ.pop("NBGRADER_DB_URL", None)
# nbgrader runs alembic by name: the environment's bin/ first on PATH, also when pytest is run without `make test`.
os.environ["PATH"] = classroom.tool_env()["PATH"]


# Assignments whose autograde run the selected tests need (filled at collection).
NEEDED = set()


def _needs_the_classes(item):
    return "graded" in getattr(item, "fixturenames", ()) and "assignment" in getattr(getattr(item, "callspec", None),
                                                                                       "params", {})


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected: only what will run
def pytest_collection_modifyitems(items):
    for item in items:
        if _needs_the_classes(item):
            NEEDED.add(item.callspec.params["assignment"])
    # The classes are graded in the background from the session's start (tests/grade_classes.py) while the other
    # tests run: the tests that read them come last.
    items.sort(key=_needs_the_classes)


class Classes:
    """``graded(assignment)`` -> (course root, student -> Scores): every needed class autograded once, in a process of
    its own started with the session (two classes at once, one per core)."""

    def __init__(self, base):
        self.base, self.process, self.started, self.scores = Path(base), None, set(), {}

    def start(self, assignments):
        if not assignments:
            return
        self.started = set(assignments)
        self.log = open(self.base / "grade_classes.log", "w")
        self.process = subprocess.Popen([sys.executable, str(HERE / "grade_classes.py"), str(self.base),
                                         *sorted(assignments)], stdout=self.log, stderr=subprocess.STDOUT,
                                        env=classroom.tool_env(), start_new_session=True)

    def __call__(self, assignment):
        root = self.base / assignment
        if assignment not in self.scores:
            if assignment not in self.started:  # a class the collection did not foresee: graded here and now
                self.started.add(assignment)
                grade_classes.grade_class(root, assignment)
            else:
                self._wait_for(root)
            self.scores[assignment] = grading.read_scores(root, assignment)
        return root, self.scores[assignment]

    def _wait_for(self, root):
        while not (root / "graded").exists():
            if (root / "failed").exists():
                raise RuntimeError(f"grading the class of {root.name} failed:\n{(root / 'failed').read_text()}")
            if not self._running():
                # Graded here instead, and said: something ended the background process (its log tells what it heard).
                warnings.warn(f"tests/grade_classes.py ended before grading {root.name}: graded in the foreground; "
                              f"its log:\n{(self.base / 'grade_classes.log').read_text()[-2000:]}")
                shutil.rmtree(root, ignore_errors=True)
                grade_classes.grade_class(root, root.name)
                return
            time.sleep(0.5)

    def _running(self):
        """Whether the background process still runs (read from /proc: ``Popen.poll`` would say 0 for a child that
        something else reaped)."""
        try:
            with open(f"/proc/{self.process.pid}/stat") as stat:
                text = stat.read()
        except OSError:
            return False
        return text[text.rindex(")") + 2] != "Z"

    def stop(self):
        if self.process is not None:
            try:  # an interrupted session: nothing the background process started outlives it
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
            self.log.close()


@pytest.fixture(scope="session", autouse=True)
def _classes(tmp_path_factory):
    """The classes of the selected grading tests, started before the first test (see ``Classes``)."""
    classes = Classes(tmp_path_factory.mktemp("classes"))
    classes.start(NEEDED)
    yield classes
    classes.stop()


@pytest.fixture(scope="session")
def graded(_classes):
    return _classes


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
