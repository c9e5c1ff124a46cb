"""The reference solutions as Python functions, taken from the solution notebooks (the only copy of them)."""

import functools

import grading
from softcap_course.grading.classroom import answer_namespace


@functools.lru_cache(maxsize=None)
def load(assignment):
    """Namespace with every solution cell of ``assignment`` executed (after the notebook's import cell)."""
    return answer_namespace(grading.notebook_path("solutions", assignment))
