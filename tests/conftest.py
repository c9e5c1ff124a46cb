"""Shared fixtures: one nbgrader autograde run per assignment, shared by all grading tests."""

import pytest

import grading
from mutants import entries


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
