"""A scratch nbgrader course and a class of submissions: what the grading tests and benchmarks are built on.

Everything goes through nbgrader's own commands; nothing here knows the answers: reference answers are read
from the instructor's solution notebooks at run time.
"""

import copy
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def read_notebook(path):
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_sources(notebook_path):
    """The reference answer of every solution cell (grade_id -> source), solution markers removed."""
    sources = {}
    for cell in read_notebook(notebook_path).cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution") and cell.cell_type == "code":
            lines = [line for line in cell.source.splitlines() if line.strip() not in SOLUTION_MARKERS]
            sources[meta["grade_id"]] = "\n".join(lines)
    return sources


def answer_namespace(notebook_path):
    """The namespace left by running a notebook's ``imports`` cell and its answer cells, in order."""
    namespace = {}
    for cell in read_notebook(notebook_path).cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if cell.cell_type == "code" and (grade_id == "imports" or nbgrader_meta(cell).get("solution")):
            exec(compile(cell.source, f"<{Path(notebook_path).name}:{grade_id}>", "exec"), namespace)
    return namespace


def test_cells(notebook_path):
    """grade_id -> points of every autograded test cell."""
    return {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"])
            for c in read_notebook(notebook_path).cells if nbgrader_meta(c).get("grade") and c.cell_type == "code"}


def fill_release(release_path, answers):
    """The release notebook with the solution cells named in ``answers`` (grade_id -> source) filled in."""
    notebook = copy.deepcopy(read_notebook(release_path))
    remaining = dict(answers)
    for cell in notebook.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in remaining:
            if not nbgrader_meta(cell).get("solution"):
                raise ValueError(f"{release_path}: cell {grade_id!r} is not a solution cell")
            cell.source = remaining.pop(grade_id)
    if remaining:
        raise KeyError(f"{release_path}: no solution cell named {sorted(remaining)}")
    return notebook


def tool_env():
    """The environment with this Python's bin/ first on PATH (nbgrader calls ``alembic`` by name)."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def nbgrader_command(*arguments):
    """Command and environment to run this environment's nbgrader."""
    return [str(Path(sys.executable).parent / "nbgrader"), *arguments], tool_env()


def run_nbgrader(root, *arguments, timeout=1800):
    command, env = nbgrader_command(*arguments)
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(arguments)} failed ({result.returncode}):\n"
                           f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


def write_config(source_root, root, db_url=None):
    """``root`` (made if missing) with the course's ``nbgrader_config.py``, its gradebook set to ``db_url``, else SQLite
    in ``root``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    config = (Path(source_root) / "nbgrader_config.py").read_text()
    db_url = db_url or f"sqlite:///{root.resolve() / 'gradebook.db'}"
    config += f"\nc.CourseDirectory.db_url = {db_url!r}\n"
    (root / "nbgrader_config.py").write_text(config)
    return root


def make_course(source_root, root, assignments, db_url=None):
    """A scratch course in ``root``: the course's nbgrader config and source notebooks, released by nbgrader.

    Its gradebook is ``db_url`` (e.g. a throw-away PostgreSQL server's), else SQLite in ``root``, written into its
    config: never the database NBGRADER_DB_URL names, even where that is set.
    """
    root = write_config(source_root, root, db_url)
    for assignment in assignments:
        shutil.copytree(Path(source_root) / "solutions" / assignment, root / "solutions" / assignment)
        run_nbgrader(root, "generate_assignment", assignment, "--force")
    return root


def course_db_url(root):
    """The gradebook URL nbgrader uses in the course at ``root``: its nbgrader_config.py read as nbgrader reads it
    (so NBGRADER_DB_URL counts where the config says so), else nbgrader's default, gradebook.db in ``root``."""
    from traitlets.config.loader import PyFileConfigLoader

    root = Path(root).resolve()
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config() \
        if (root / "nbgrader_config.py").exists() else {}
    url = config.get("CourseDirectory", {}).get("db_url")
    return url or f"sqlite:///{root / 'gradebook.db'}"


def gradebook(root, url=None):
    """The gradebook of the course at ``root`` (``url`` if given)."""
    from nbgrader.api import Gradebook

    return Gradebook(url or course_db_url(root))


def enrol(root, students):
    """Put students on a course's roster (the course's config grades only enrolled students)."""
    with gradebook(root) as book:
        for student in students:
            book.update_or_create_student(student)


def write_submissions(root, assignment, submissions):
    """Put each notebook (student id -> notebook) at submitted/<student>/<assignment>/<assignment>.ipynb."""
    for student, notebook in submissions.items():
        target = Path(root) / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, str(target))


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
    scores = {}
    with gradebook(root) as book:
        for row in book.assignment_submissions(assignment):
            notebook = book.find_submission_notebook(assignment, assignment, row.student_id)
            scores[row.student_id] = Scores({g.name: (float(g.score), float(g.max_score)) for g in notebook.grades})
    return scores
