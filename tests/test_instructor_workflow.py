"""The README's instructor section works as written: its command block, run verbatim in a copy of the course.

The copy has the repository's tracked course files, the environment (.venv, linked), a roster of three
students and their submissions for 01-softmax: one complete, one with stable_softmax left blank, one that is
not on the roster. Each line of the README block runs in order, in one shell, as an instructor would type it.
"""

import csv
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest

import grading

ASSIGNMENT = "01-softmax"
# softcap_course/ too: the Makefile's environment depends on one of its files (the nbgrader configuration it installs).
COURSE_FILES = ["nbgrader_config.py", "Makefile", "requirements.txt", "pyproject.toml", "solutions", "notebooks",
                "softcap_course", ".gitignore"]
TIMESTAMP = "2026-12-04 17:03:00.000000 UTC"


def instructor_commands():
    readme = (grading.REPO / "README.md").read_text()
    section = readme.split("## For instructors", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("instructor")
    for name in COURSE_FILES:
        source = grading.REPO / name
        # copy2 keeps modification times, so make sees the environment as up to date and installs nothing.
        if source.is_dir():
            shutil.copytree(source, root / name, copy_function=shutil.copy2)
        else:
            shutil.copy2(source, root / name)
    (root / ".venv").symlink_to(grading.BIN.parent)
    # The environment is shared: were it older than what it is made from, the copy's make would install this copy of
    # the package into it (the repository's own environment, pointing at a folder that pytest deletes later).
    if subprocess.run(["make", "-q", ".venv/.installed"], cwd=root, capture_output=True).returncode != 0:
        pytest.fail("the environment is older than requirements.txt, pyproject.toml or nbgrader_anywhere.py: "
                    "run `make .venv/.installed` (`make test` does) before this test")
    with open(root / "roster.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "first_name", "last_name", "email"])
        writer.writerow(["ada", "Ada", "Lovelace", "ada@example.org"])
        writer.writerow(["alan", "Alan", "Turing", "alan@example.org"])
    reference = grading.solution_sources(ASSIGNMENT)
    halfway = {k: v for k, v in reference.items() if k != "stable_softmax"}
    # A repository, as the course is: after the round, git must see nothing new (no student data to commit by accident).
    git = ["git", "-c", "user.name=instructor", "-c", "user.email=instructor@example.org"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "the course"], cwd=root, check=True)
    for student, answers in [("ada", reference), ("alan", halfway), ("grace", reference)]:
        path = root / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(grading.submission(ASSIGNMENT, answers), str(path))
    (root / "submitted" / "ada" / ASSIGNMENT / "timestamp.txt").write_text(TIMESTAMP)
    grading_folders = set(Path(tempfile.gettempdir()).glob("softcap-grading-*"))
    # One shell, each command followed by a line with its exit status.
    script = "".join(f"{command}\necho \"EXIT $? :: {command.split('#')[0].strip()}\"\n" for command in instructor_commands())
    # The instructor's home is not the course folder (Jupyter keeps ~/.jupyter/migrated there).
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path_factory.mktemp("instructor-home")), "NBGRADER_CELL_TIMEOUT": "30"}
    result = subprocess.run(["bash", "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    statuses = dict((command, int(status)) for status, command in re.findall(r"^EXIT (\d+) :: (.*)$", output, flags=re.M))
    assert len(statuses) == len(instructor_commands()), output[-3000:]
    # nbgrader autograde exits 1 for a folder of a student not on the roster (grace); everything else must succeed.
    failed = {c: s for c, s in statuses.items() if s != 0 and c != f"nbgrader autograde {ASSIGNMENT}"}
    assert not failed, f"README commands failed: {failed}\n{output[-3000:]}"
    # A folder whose grading process still runs belongs to another test's round (the suite runs two at once); one
    # whose process is gone was left behind.
    left = {folder for folder in set(Path(tempfile.gettempdir()).glob("softcap-grading-*")) - grading_folders
            if not _process_runs(int(folder.name.rsplit("-", 1)[1]))}
    return root, output, left


def _process_runs(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def test_the_block_has_the_standard_commands():
    commands = " ; ".join(instructor_commands())
    for expected in ("nbgrader db student import roster.csv", "make release", "make grade",
                     f"nbgrader autograde {ASSIGNMENT}", f"nbgrader generate_feedback {ASSIGNMENT}", "nbgrader export"):
        assert expected in commands


def test_grades_csv_has_the_enrolled_students_with_their_scores(course):
    root, _, _ = course
    with open(root / "grades.csv") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle) if row["assignment"] == ASSIGNMENT}
    assert set(rows) == {"ada", "alan"}
    maximum = sum(grading.test_cells(ASSIGNMENT).values())
    assert float(rows["ada"]["score"]) == float(rows["ada"]["max_score"]) == maximum
    assert 0 < float(rows["alan"]["score"]) < maximum


def test_feedback_is_written_for_every_graded_student(course):
    root, _, _ = course
    for student in ("ada", "alan"):
        assert (root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").exists()
    assert not (root / "feedback" / "grace").exists()


def test_the_round_reports_progress_and_the_student_not_on_the_roster(course):
    _, output, _ = course
    assert re.search(r"\[\d+/2\] autograding ada", output)
    assert re.search(r"! grace: not on the roster", output)
    assert re.search(r"\| ada \| 14/14 \|", output)


def test_release_regenerated_the_same_notebooks(course):
    root, _, _ = course
    for path in (root / "notebooks").rglob("*.ipynb"):
        committed = grading.REPO / path.relative_to(root)
        assert grading.read_notebook(path).cells == grading.read_notebook(committed).cells, path


def test_git_sees_no_student_data_and_no_temporary_folder_is_left(course):
    root, _, left = course
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True,
                            text=True, check=True).stdout
    assert status == "", f"a round leaves files for git to commit:\n{status}"
    assert not left, f"temporary folders left behind: {sorted(left)}"


def test_the_hand_in_time_reaches_grades_csv(course):
    root, _, _ = course
    with open(root / "grades.csv") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle) if row["assignment"] == ASSIGNMENT}
    assert rows["ada"]["timestamp"].startswith("2026-12-04 17:03:00"), rows["ada"]


def test_nbgrader_run_from_a_subfolder_refuses_and_makes_nothing_there(course):
    root, _, _ = course
    # One level down each folder has a refusing nbgrader_config.py; deeper, the environment's own configuration refuses.
    for folder in ("notebooks", "solutions", f"notebooks/{ASSIGNMENT}", f"solutions/{ASSIGNMENT}"):
        result = subprocess.run([str(grading.BIN / "nbgrader"), "export"], cwd=root / folder, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode != 0 and "runs from the course root" in result.stdout + result.stderr
        assert not (root / folder / "gradebook.db").exists() and not (root / folder / "grades.csv").exists()


def test_make_from_a_subfolder_runs_the_course_roots_command():
    """`make release` typed in notebooks/ or solutions/ is the root's `make release`, not "No rule to make target"."""
    for folder in ("notebooks", "solutions"):
        result = subprocess.run(["make", "-n", "release"], cwd=grading.REPO / folder, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0 and "nbgrader generate_assignment" in result.stdout, result.stdout + result.stderr


def test_the_environments_nbgrader_configuration_refuses_only_instructor_commands_below_a_course_root(tmp_path):
    """Unit: what the configuration the Makefile installs in the environment decides, case by case."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("anywhere", grading.REPO / "softcap_course/grading/nbgrader_anywhere.py")
    anywhere = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(anywhere)  # in pytest's folder and with pytest's argv: refuses nothing
    root = tmp_path / "course"
    for folder in ("solutions/01-softmax", "notebooks/01-softmax", "benchmarks/tmp/scratch"):
        (root / folder).mkdir(parents=True)
    (root / "nbgrader_config.py").write_text("")
    (root / "benchmarks/tmp/scratch/nbgrader_config.py").write_text("")  # a course of its own inside this one
    nbgrader = str(grading.BIN / "nbgrader")
    assert "cd " + str(root) in anywhere._refusal([nbgrader, "export"], root / "notebooks/01-softmax")
    assert anywhere._refusal([nbgrader, "--debug", "autograde", "01-softmax"], root / "solutions/01-softmax")
    assert anywhere._refusal([nbgrader, "export"], root) is None
    assert anywhere._refusal([nbgrader, "validate", "a.ipynb"], root / "notebooks/01-softmax") is None
    assert anywhere._refusal([nbgrader, "export"], root / "benchmarks/tmp/scratch") is None
    assert anywhere._refusal([nbgrader, "export"], tmp_path) is None
    assert anywhere._refusal(["/usr/bin/jupyter-lab", "--no-browser"], root / "notebooks/01-softmax") is None


def test_a_new_gradebook_regrades_what_the_old_one_had_graded(course):
    """Switching gradebooks (SQLite to PostgreSQL, a fresh file): the autograded folders are there, the scores are
    not. The round grades everyone again instead of skipping them and losing their feedback and grades."""
    root, _, _ = course
    def scores():
        with open(root / "grades.csv") as handle:
            return {row["student_id"]: row["score"] for row in csv.DictReader(handle) if row["assignment"] == ASSIGNMENT}

    before = scores()
    shutil.move(root / "gradebook.db", root / "old-gradebook.db")
    env = dict(os.environ, NBGRADER_CELL_TIMEOUT="30")
    for command in (["make", "release"], [str(grading.BIN / "nbgrader"), "db", "student", "import", "roster.csv"]):
        subprocess.run(command, cwd=root, env=env, check=True, capture_output=True, timeout=600)
    result = subprocess.run([str(grading.BIN / "python"), "-m", "softcap_course.grading.instructor", ASSIGNMENT],
                            cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0 and f"{ASSIGNMENT}: autograding 2 submissions\n" in result.stdout, result.stdout
    assert (root / "feedback" / "ada" / ASSIGNMENT / f"{ASSIGNMENT}.html").exists()
    assert scores() == before and float(before["ada"]) > 0, (before, scores())
