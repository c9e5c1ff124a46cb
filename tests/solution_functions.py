"""The reference solutions as Python functions, taken from the solution notebooks (the only copy of them)."""

import functools

import grading


@functools.lru_cache(maxsize=None)
def load(assignment):
    """Namespace with every solution cell of ``assignment`` executed (after the notebook's import cell)."""
    namespace = {}
    notebook = grading.read_notebook(grading.notebook_path("solutions", assignment))
    for cell in notebook.cells:
        meta = grading.nbgrader_meta(cell)
        if cell.cell_type == "code" and (meta.get("grade_id") == "imports" or meta.get("solution")):
            exec(compile(grading.solution_sources(assignment).get(meta["grade_id"], cell.source),
                         f"<{assignment}:{meta['grade_id']}>", "exec"), namespace)
    return namespace
