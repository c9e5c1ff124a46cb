"""Autograde submissions with nbgrader's own commands in a scratch course, and read the scores back.

The grading tests build submissions from the committed release notebook (what students download), put
them in nbgrader's ``submitted/<student>/<assignment>/`` layout, run ``nbgrader autograde`` and read every
test cell's score from the gradebook.
"""

import ast
import copy
import inspect
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def assignments():
    return sorted(p.name for p in (REPO / "solutions").iterdir() if (p / f"{p.name}.ipynb").exists())


def notebook_path(step, assignment):
    return REPO / step / assignment / f"{assignment}.ipynb"


def read_notebook(path):
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_sources(assignment):
    """The reference answer of every solution cell (grade_id -> source), solution markers removed."""
    sources = {}
    for cell in read_notebook(notebook_path("solutions", assignment)).cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution") and cell.cell_type == "code":
            lines = [line for line in cell.source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
            sources[meta["grade_id"]] = "\n".join(lines)
    return sources


def test_cells(assignment):
    """grade_id -> points of every autograded test cell of the solution notebook."""
    return {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"])
            for c in read_notebook(notebook_path("solutions", assignment)).cells
            if nbgrader_meta(c).get("grade") and c.cell_type == "code"}


def submission(assignment, answers):
    """The release notebook with the solution cells named in ``answers`` (grade_id -> source) filled in."""
    notebook = copy.deepcopy(read_notebook(notebook_path("notebooks", assignment)))
    remaining = dict(answers)
    for cell in notebook.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in remaining:
            if not nbgrader_meta(cell).get("solution"):
                raise ValueError(f"{assignment}: cell {grade_id!r} is not a solution cell")
            cell.source = remaining.pop(grade_id)
    if remaining:
        raise KeyError(f"{assignment}: the release has no solution cell named {sorted(remaining)}")
    return notebook


def function_source(function, name):
    """Source of ``function`` as a top-level ``def name(...)``, decorators dropped (for mutant tables)."""
    tree = ast.parse(inspect.getsource(function).lstrip())
    definition = tree.body[0]
    definition.name = name
    definition.decorator_list = []
    return ast.unparse(definition)


def run(command, cwd, timeout=1800):
    """Run a command with the environment's bin/ first on PATH (nbgrader calls ``alembic`` by name)."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
                           f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


def make_course(root, assignment_ids):
    """A scratch course in ``root``: the config, the source notebooks, and a release made by nbgrader."""
    root = Path(root)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    for assignment in assignment_ids:
        shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
        run([BIN / "nbgrader", "generate_assignment", assignment, "--force"], cwd=root)
    return root


@dataclass
class Scores:
    """What the gradebook says about one submission: test grade_id -> (score, max score)."""

    by_test: dict = field(default_factory=dict)

    @property
    def total(self):
        return sum(score for score, _ in self.by_test.values())

    @property
    def max_total(self):
        return sum(maximum for _, maximum in self.by_test.values())

    def lost(self):
        return {name: (score, maximum) for name, (score, maximum) in self.by_test.items() if score < maximum}


def read_scores(root, assignment):
    """Scores of every autograded submission of ``assignment`` in the course at ``root``."""
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{Path(root) / 'gradebook.db'}") as gradebook:
        for submission_row in gradebook.assignment_submissions(assignment):
            notebook = gradebook.find_submission_notebook(assignment, assignment, submission_row.student_id)
            scores[submission_row.student_id] = Scores({
                grade.name: (float(grade.score), float(grade.max_score))
                for grade in notebook.grades
            })
    return scores


def enrol(root, students):
    """Put students on the course roster (the config grades only students already in the gradebook)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(root) / 'gradebook.db'}") as gradebook:
        for student in students:
            gradebook.update_or_create_student(student)


def autograde(root, assignment, submissions):
    """Autograde ``submissions`` (student id -> notebook) in the course at ``root``; returns student -> Scores."""
    root = Path(root)
    enrol(root, submissions)
    for student, notebook in submissions.items():
        target = root / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, str(target))
    result = run([BIN / "nbgrader", "autograde", assignment, "--force"], cwd=root)
    (root / f"autograde-{assignment}.log").write_text(result.stdout + result.stderr)
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
                grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "?")
                messages.append(f"[{grade_id}] {output['ename']}: {output['evalue']}")
    return "\n".join(messages) or "(no cell raised)"
