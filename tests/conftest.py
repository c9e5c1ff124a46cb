"""Shared fixtures: the built book, and one nbgrader autograde run per assignment."""

import os

import pytest
import yaml

import grading
from mutants import entries


# The tests build scratch courses with their own SQLite gradebooks: never an instructor's real database.
os.environ.pop("NBGRADER_DB_URL", None)


def student_id(entry):
    return f"{entry.kind}-{entry.target}-{entry.name}"


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """``graded(assignment)`` -> (course root, student -> Scores), autograding every submission once.

    The class: the reference solutions, the untouched release, and one student per mutant-table entry.
    """
    cache = {}

    def grade(assignment):
        if assignment not in cache:
            root = grading.make_course(tmp_path_factory.mktemp(assignment), [assignment])
            reference = grading.solution_sources(assignment)
            submissions = {"solution": grading.submission(assignment, reference),
                           "blank": grading.submission(assignment, {})}
            for entry in entries(assignment):
                submissions[student_id(entry)] = grading.submission(assignment, {**reference, entry.target: entry.source})
            cache[assignment] = (root, grading.autograde(root, assignment, submissions))
        return cache[assignment]

    return grade


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
