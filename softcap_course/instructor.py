"""One grading round with nbgrader's standard commands, with progress and a clear report: ``make grade``.

    python -m softcap_course.instructor [ASSIGNMENT ...]

For each assignment with submissions (default: all of them) it checks ``submitted/`` first, then runs
``nbgrader autograde`` and ``nbgrader generate_feedback``, and at the end ``nbgrader export`` (grades.csv).
It never moves, edits or deletes a submitted file; everything it finds wrong is reported to the instructor:

* a folder in ``submitted/`` for a student not on the roster (not graded, no gradebook row);
* a notebook under another name, or one that is not a valid notebook (graded as 0, kept as it is);
* test cells a student edited or deleted (nbgrader restores them from the gradebook before grading);
* solution cells that assign to comparison helpers such as ``np.allclose`` (the tests do not use them);
* cells interrupted at the time limit, and kernels that died (a crash, ``os._exit``): the rest scores 0.
"""

import argparse
import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from softcap_course import classroom
from softcap_course.classroom import gradebook, nbgrader_command, nbgrader_meta, read_notebook

_PATCHED_HELPER = re.compile(r"^\s*(?:np|numpy|math|torch)(?:\.testing)?\.(?:allclose|isclose|assert_\w+|array_equal)\s*=",
                             re.M)


@dataclass
class Problem:
    student: str
    assignment: str
    message: str


@dataclass
class Round:
    root: Path
    problems: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)  # (assignment, student) -> seconds nbgrader spent on it

    def report(self, student, assignment, message):
        self.problems.append(Problem(student, assignment, message))
        print(f"  ! {student}: {message}", flush=True)


def _release_test_cells(root, assignment):
    notebook = read_notebook(Path(root) / "notebooks" / assignment / f"{assignment}.ipynb")
    return {nbgrader_meta(cell)["grade_id"]: cell.source for cell in notebook.cells if nbgrader_meta(cell).get("grade")}


def preflight(state, assignment, roster):
    """Check every folder submitted/*/<assignment>/.

    Returns (students nbgrader will grade, those of them whose notebook can run).
    """
    root = state.root
    expected_name = f"{assignment}.ipynb"
    tests = _release_test_cells(root, assignment)
    graded, runnable = [], []
    for folder in sorted((root / "submitted").glob(f"*/{assignment}")):
        student = folder.parent.name
        if student not in roster:
            state.report(student, assignment, f"not on the roster: not graded and no gradebook row. If this is a "
                         f"student, add them (`nbgrader db student add {student}`) and run the round again.")
            continue
        graded.append(student)
        notebook_path = folder / expected_name
        if not notebook_path.exists():
            found = sorted(p.name for p in folder.glob("*.ipynb"))
            advice = (f" If {found[0]!r} is the assignment, rename it: mv {str(folder / found[0])!r} "
                      f"{str(notebook_path)!r}") if len(found) == 1 else ""
            state.report(student, assignment, f"no {expected_name} in {folder} (found: {found or 'nothing'}): "
                         f"scored 0 as missing; the files were left as they are.{advice}")
            continue
        try:
            notebook = read_notebook(notebook_path)
        except Exception as error:  # any unreadable file is reported the same way
            state.report(student, assignment, f"{notebook_path.name} is not a valid notebook ({type(error).__name__}: "
                         f"{str(error).splitlines()[0][:120]}): scored 0; ask the student for a fresh copy.")
            continue
        runnable.append(student)
        submitted = {nbgrader_meta(cell)["grade_id"]: cell.source for cell in notebook.cells
                     if nbgrader_meta(cell).get("grade_id") in tests}
        deleted = sorted(set(tests) - set(submitted))
        edited = sorted(name for name, source in submitted.items() if source != tests[name])
        if deleted:
            state.report(student, assignment, f"deleted test cells {deleted}: put back from the gradebook and graded.")
        if edited:
            state.report(student, assignment, f"edited test cells {edited}: the original tests were restored "
                         "before grading.")
        patched = sorted({match.group(0).strip() for cell in notebook.cells if cell.cell_type == "code"
                          for match in _PATCHED_HELPER.finditer(cell.source)})
        if patched:
            state.report(student, assignment, f"assigns to comparison helpers ({'; '.join(patched)}): the tests "
                         "do not use them, so this changes nothing, but it is worth a conversation.")
    return graded, runnable


def _solution_cell_errors(root, assignment, student):
    """(grade_id, error name) of every solution cell that raised while autograding; None without a notebook."""
    path = Path(root) / "autograded" / student / assignment / f"{assignment}.ipynb"
    if not path.exists():
        return None
    return [(nbgrader_meta(cell).get("grade_id", "?"), output.get("ename", "?"))
            for cell in json.loads(path.read_text())["cells"]
            if nbgrader_meta(cell).get("solution")
            for output in cell.get("outputs", []) if output.get("output_type") == "error"]


def autograde(state, assignment, graded, runnable):
    """Run `nbgrader autograde`, with a progress line per submission; report crashes and time-outs."""
    command, env = nbgrader_command("autograde", assignment)
    process = subprocess.Popen(command, cwd=state.root, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    log_lines, seen, started = [], [], time.monotonic()
    start_marker = re.compile(rf"Sanitizing .*/submitted/([^/]+)/{re.escape(assignment)}/")
    for line in process.stdout:
        log_lines.append(line)
        match = start_marker.search(line)
        if match and match.group(1) not in seen:
            now = time.monotonic()
            if seen:  # a submission's time runs from its first log line to the next one's
                state.seconds[(assignment, seen[-1])] = now - started
            seen.append(match.group(1))
            started = now
            print(f"  [{len(seen)}/{len(graded)}] autograding {match.group(1)}", flush=True)
    process.wait()
    if seen:
        state.seconds[(assignment, seen[-1])] = time.monotonic() - started
    (state.root / f"autograde-{assignment}.log").write_text("".join(log_lines))
    for student in runnable:
        errors = _solution_cell_errors(state.root, assignment, student)
        if errors is None:
            state.report(student, assignment, "the kernel died while running the notebook (a crash, or os._exit in "
                         f"a cell): nothing was graded, so it scores 0. See autograde-{assignment}.log.")
        for cell, ename in errors or []:
            if ename == "KeyboardInterrupt":
                state.report(student, assignment, f"cell {cell} was interrupted at the time limit (an endless loop?); "
                             "the tests that need it score 0.")
            elif ename in ("SystemExit", "MemoryError"):
                state.report(student, assignment, f"cell {cell} raised {ename}; the tests that need it score 0.")
            elif ename in ("FileNotFoundError", "PermissionError", "OSError"):
                state.report(student, assignment, f"cell {cell} raised {ename}: the grading sandbox shows a submission "
                             "nothing but its own folder and a read-only Python; the tests that need it score 0.")
    tampering = re.compile(r"suspected tampering: ([^,]+), [^:]+: cell (\S+) passed in the notebook but failed when "
                           r"re-run outside it: (.*)")
    for line in log_lines:
        match = tampering.search(line)
        if match and match.group(1) in runnable:
            state.report(match.group(1), assignment, f"suspected tampering: {match.group(2)} passed in the notebook "
                         f"but failed when the grader ran it outside the student's process ({match.group(3).strip()}); "
                         "it scores 0. Read the submission.")


def run_nbgrader(state, *arguments):
    try:
        classroom.run_nbgrader(state.root, *arguments)
    except RuntimeError as error:
        raise SystemExit(str(error)) from None


def scores(state, assignment):
    with gradebook(state.root) as book:
        return {row.student_id: (row.score, row.max_score) for row in book.assignment_submissions(assignment)}


def grading_round(root=".", assignments=None):
    state = Round(Path(root).resolve())
    submitted = state.root / "submitted"
    available = sorted({p.name for p in submitted.glob("*/*") if p.is_dir()}) if submitted.exists() else []
    assignments = assignments or available
    if not assignments:
        raise SystemExit(f"nothing to grade: put notebooks in {submitted}/<student>/<assignment>/<assignment>.ipynb")
    with gradebook(state.root) as book:
        roster = {student.id for student in book.students}
        known = {assignment.name for assignment in book.assignments}
    print(f"Grading round in {state.root}: {len(roster)} students on the roster", flush=True)
    table = {}
    for assignment in assignments:
        if assignment not in known:
            raise SystemExit(f"{assignment} is not in the gradebook: run `make release` (nbgrader generate_assignment) first")
        print(f"{assignment}: checking submitted/", flush=True)
        graded, runnable = preflight(state, assignment, roster)
        print(f"{assignment}: autograding {len(graded)} submissions", flush=True)
        autograde(state, assignment, graded, runnable)
        print(f"{assignment}: generating feedback", flush=True)
        run_nbgrader(state, "generate_feedback", assignment, "--force")
        table[assignment] = scores(state, assignment)
    run_nbgrader(state, "export")
    students = sorted({s for by_student in table.values() for s in by_student})
    print("\n| student | " + " | ".join(table) + " |\n|---|" + "---|" * len(table))
    for student in students:
        cells = [f"{table[a][student][0]:g}/{table[a][student][1]:g}" if student in table[a] else "-" for a in table]
        print(f"| {student} | " + " | ".join(cells) + " |")
    print(f"\ngrades: {state.root / 'grades.csv'}; feedback: {state.root / 'feedback'}; "
          f"{len(state.problems)} problem(s) reported above.")
    return state


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: every one with submissions)")
    parser.add_argument("--root", default=".", help="the course root (default: the current folder)")
    args = parser.parse_args(argv)
    grading_round(args.root, args.assignments)


if __name__ == "__main__":
    main()
