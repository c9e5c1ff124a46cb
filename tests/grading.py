"""The repository's course, seen by the grading tests: its assignments, and autograding in a scratch course.

The machinery lives in ``softcap_course.grading.classroom`` (shared with the grading benchmark); this module binds it
to this repository and adds what only the tests need.
"""

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

from softcap_course.grading import classroom
from softcap_course.grading.classroom import Scores, enrol, nbgrader_meta, read_notebook, read_scores  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def assignments():
    return sorted(p.name for p in (REPO / "solutions").iterdir() if (p / f"{p.name}.ipynb").exists())


def notebook_path(step, assignment):
    return REPO / step / assignment / f"{assignment}.ipynb"


def solution_sources(assignment):
    """The reference answer of every solution cell (grade_id -> source), solution markers removed."""
    return classroom.solution_sources(notebook_path("solutions", assignment))


def test_cells(assignment):
    """grade_id -> points of every autograded test cell of the solution notebook."""
    return classroom.test_cells(notebook_path("solutions", assignment))


def submission(assignment, answers):
    """The release notebook with the solution cells named in ``answers`` (grade_id -> source) filled in."""
    return classroom.fill_release(notebook_path("notebooks", assignment), answers)


def function_source(function, name):
    """Source of ``function`` as a top-level ``def name(...)``, decorators dropped (for mutant tables)."""
    tree = ast.parse(inspect.getsource(function).lstrip())
    definition = tree.body[0]
    definition.name = name
    definition.decorator_list = []
    return ast.unparse(definition)


def run(command, cwd, timeout=1800):
    """Run a command with the environment's bin/ first on PATH; fail with its output."""
    result = subprocess.run(command, cwd=cwd, env=classroom.tool_env(), capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
                           f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


# Assignment ids -> the files (relative path -> bytes) of a course that nbgrader made for them in this process, with a
# SQLite gradebook: every later course of the same assignments is a copy of it.
_MADE = {}


def make_course(root, assignment_ids, db_url=None):
    """A scratch course in ``root``: the config, the source notebooks, a release and a gradebook made by nbgrader.

    nbgrader makes the first course of each set of assignments in this process (``generate_assignment``: about 3 s
    an assignment, and a new gradebook); a later one with a SQLite gradebook gets a copy of the same files, the
    gradebook's rows included. A course with another gradebook (``db_url``) is always made by nbgrader."""
    key, root = tuple(assignment_ids), Path(root)
    if db_url is not None or key not in _MADE:
        classroom.make_course(REPO, root, assignment_ids, db_url=db_url)
        if db_url is None:
            _MADE[key] = {path.relative_to(root): path.read_bytes() for path in sorted(root.rglob("*"))
                          if path.is_file() and path.name != "nbgrader_config.py"}
        return root
    classroom.write_config(REPO, root)
    for relative, data in _MADE[key].items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    return root


def autograde(root, assignment, submissions):
    """Autograde ``submissions`` (student id -> notebook) in the course at ``root``; returns student -> Scores."""
    enrol(root, submissions)
    classroom.write_submissions(root, assignment, submissions)
    result = classroom.run_nbgrader(root, "autograde", assignment, "--force")
    (Path(root) / f"autograde-{assignment}.log").write_text(result.stdout + result.stderr)
    return read_scores(root, assignment)


def failing_outputs(root, assignment, student):
    """The error output of every failing cell in a student's autograded notebook (for test failure messages)."""
    path = Path(root) / "autograded" / student / assignment / f"{assignment}.ipynb"
    if not path.exists():
        return f"(no autograded notebook at {path})"
    messages = []
    for cell in json.loads(path.read_text())["cells"]:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                grade_id = nbgrader_meta(cell).get("grade_id", "?")
                messages.append(f"[{grade_id}] {output['ename']}: {output['evalue']}")
    return "\n".join(messages) or "(no cell raised)"


def cell_failure(root, assignment, student, grade_id):
    """What the test cell ``grade_id`` of a student's autograded notebook printed when it failed (its error's name
    and message, as the student's feedback shows them), or "" when it passed."""
    path = Path(root) / "autograded" / student / assignment / f"{assignment}.ipynb"
    for cell in json.loads(path.read_text())["cells"]:
        if nbgrader_meta(cell).get("grade_id") == grade_id:
            return "\n".join(f"{o['ename']}: {o['evalue']}" for o in cell.get("outputs", [])
                             if o.get("output_type") == "error")
    raise KeyError(f"{assignment} has no cell {grade_id}")
