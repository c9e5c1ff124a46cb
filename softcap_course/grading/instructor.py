"""One grading round with nbgrader's standard commands, with progress and a clear report: ``make grade``.

    python -m softcap_course.grading.instructor [--jobs N] [--force] [ASSIGNMENT ...]

For each assignment with submissions (default: all of them) it checks ``submitted/`` first, then runs
``nbgrader autograde`` and ``nbgrader generate_feedback``, and at the end ``nbgrader export`` (grades.csv).
With ``--jobs N`` (default: one per core) N nbgrader commands run side by side, each on its own share of the class;
every submission still runs in its own kernel in its own sandbox (``softcap_course/grading/parallel.py`` says what makes this
safe, SQLite included). A submission already graded, whose files have not changed since, is not graded again
(``--force`` regrades everything). Two rounds on one course take turns per assignment.
It never moves, edits or deletes a submitted file; everything it finds wrong is reported to the instructor:

* a folder in ``submitted/`` for a student not on the roster (not graded, no gradebook row);
* a notebook under another name, or one that is not a valid notebook (graded as 0, kept as it is);
* test cells a student edited or deleted (nbgrader restores them from the gradebook before grading);
* solution cells that assign to comparison helpers such as ``np.allclose`` (the tests do not use them);
* cells interrupted at the time limit, and kernels that died (a crash, ``os._exit``): the rest scores 0;
* submissions left ungraded by a grading process that was killed: the round exits with status 1, and running it
  again grades exactly those.
"""

import argparse
import contextlib
import fcntl
import json
import os
import queue
import re
import select
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from softcap_course.grading import classroom, parallel, report, sandbox
from softcap_course.grading.classroom import gradebook, nbgrader_command, nbgrader_meta, read_notebook

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
    jobs: int = 1
    seconds: dict = field(default_factory=dict)  # (assignment, student) -> seconds nbgrader spent on it
    ungraded: list = field(default_factory=list)  # (assignment, student) left ungraded by a killed process
    no_feedback: list = field(default_factory=list)  # (assignment, student) whose feedback a failed command lost
    unreadable: list = field(default_factory=list)  # (assignment, student) whose notebook could not be read
    # Children this process had before the round began (a caller's database server, a browser): not the round's, never
    # killed with its orphans.
    bystanders: frozenset = frozenset()

    def report(self, student, assignment, message):
        self.problems.append(Problem(student, assignment, message))
        print(f"  ! {student}: {message}", flush=True)


def count(number, word):
    """``1 submission``, ``2 submissions``."""
    return f"{number} {word}{'' if number == 1 else 's'}"


def find_course_root(start="."):
    """The course root: ``start`` or the nearest folder above it with an nbgrader_config.py that names
    ``solutions`` as nbgrader's source folder. Exits with the reason when there is none (nbgrader run elsewhere would
    make an empty gradebook there)."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        config = folder / "nbgrader_config.py"
        if config.is_file() and "source_directory" in config.read_text(errors="replace"):
            return folder
    raise SystemExit(f"no course here: neither {here} nor a folder above it holds the course's nbgrader_config.py. "
                     "Run the grading round from the course's folder (or give --root).")


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
            reason = why_unreadable(notebook_path, error)
            state.report(student, assignment, f"{notebook_path.name} is not a valid notebook ({reason}): scored 0; "
                         "ask the student for a fresh copy (they get a feedback page saying so).")
            unreadable_feedback(root, assignment, student, notebook_path.name, reason)
            state.unreadable.append((assignment, student))
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


def why_unreadable(path, error):
    """What is wrong with a notebook file that nbformat refused, in words a student can act on."""
    data = Path(path).read_bytes()
    if not data.strip():
        return "the file is empty"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as problem:
        return f"the file is not text: byte {problem.start} of {len(data)} is not UTF-8 (a binary or another format)"
    try:
        json.loads(text)
    except json.JSONDecodeError as problem:
        if problem.pos >= len(text.rstrip()) - 1 or problem.msg.startswith("Unterminated string"):
            return f"the file stops in the middle of the notebook, after {len(data)} bytes: it was cut short"
        return f"the file is not JSON from line {problem.lineno}, column {problem.colno} on: {problem.msg}"
    first = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
    return f"the file is JSON but not a Jupyter notebook ({first})"


def unreadable_feedback(root, assignment, student, name, reason):
    """The feedback page of a submission whose notebook cannot be read: what was wrong with the file, and what to do."""
    import html

    page = Path(root) / "feedback" / student / assignment / f"{assignment}.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(
        f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(assignment)}: your notebook could "
        f"not be read</title></head>\n<body style=\"font-family: sans-serif; max-width: 45em; margin: 2em auto\">\n"
        f"<h1>{html.escape(assignment)}: your notebook could not be read</h1>\n"
        f"<p>The file you handed in, <code>{html.escape(name)}</code>, is not a valid Jupyter notebook, so none of its "
        f"tests could run and it scored 0.</p>\n<p>What was wrong: <code>{html.escape(reason)}</code></p>\n"
        "<p>This usually means the file was cut short or changed outside Jupyter (a failed upload, an editor that is "
        "not Jupyter). Open your notebook in Jupyter, check that it opens and runs (<em>Kernel, Restart &amp; Run "
        "All</em>), save it, and hand it in again; or ask your instructor.</p>\n</body></html>\n")


def autograded_notebook(root, assignment, student):
    return Path(root) / "autograded" / student / assignment / f"{assignment}.ipynb"


def _solution_cell_errors(root, assignment, student):
    """(grade_id, error name, message) of every solution cell that raised while autograding; None without a notebook."""
    path = autograded_notebook(root, assignment, student)
    if not path.exists():
        return None
    return [(nbgrader_meta(cell).get("grade_id", "?"), output.get("ename", "?"), str(output.get("evalue", "")))
            for cell in json.loads(path.read_text())["cells"]
            if nbgrader_meta(cell).get("solution")
            for output in cell.get("outputs", []) if output.get("output_type") == "error"]


@dataclass
class Plan:
    """One assignment of a round: who is graded, whose notebook can run, and who needs autograding now."""

    graded: list
    runnable: list
    pending: list
    workers: list = field(default_factory=list)  # its autograde commands
    waiting: int = 0  # autograde commands still running


@dataclass
class Worker:
    """One nbgrader command (autograde or generate_feedback) on a share of one assignment's class."""

    command: str
    assignment: str
    number: int
    students: list
    process: subprocess.Popen = None
    log: list = field(default_factory=list)
    seen: list = field(default_factory=list)  # students whose grading started, in order
    started: float = 0.0  # when the last of them started

    def order(self, assignments):  # earlier assignments first; an assignment's feedback before later autograding
        return assignments.index(self.assignment), self.command != "generate_feedback", self.number

    def death(self):
        code = self.process.returncode
        return f"was killed by {signal.Signals(-code).name}" if code is not None and code < 0 else None


def _start(state, worker, lines):
    """``nbgrader <command> <assignment> --force``, limited to the worker's students; its lines go to ``lines``."""
    arguments, env = nbgrader_command(worker.command, worker.assignment, "--force")
    env[parallel.STUDENTS_VARIABLE] = json.dumps(worker.students)
    worker.process = subprocess.Popen(arguments, cwd=state.root, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT)
    if state.jobs > 1:
        print(f"  {worker.assignment}: {worker.command} worker {worker.number} (pid {worker.process.pid}): "
              f"{len(worker.students)} submissions", flush=True)
    threading.Thread(target=_pump, args=(worker, lines), daemon=True).start()


def _pump(worker, lines):
    """The worker's output, line by line, into ``lines``; then ``(worker, None)``. It stops once the worker has ended
    and its pipe is quiet, even if a process that outlived it still holds the pipe open (no EOF would ever come)."""
    fd = worker.process.stdout.fileno()
    pending = b""
    while True:
        if select.select([fd], [], [], 0.5)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                lines.put((worker, line.decode(errors="replace") + "\n"))
        elif worker.process.poll() is not None:
            break
    if pending:
        lines.put((worker, pending.decode(errors="replace")))
    worker.process.stdout.close()
    lines.put((worker, None))


def kill_orphans(keep=()):
    """Kill and reap every child of this process but ``keep``: grading processes that outlived the nbgrader command that
    started them (it was killed) are reparented here, since the round is their subreaper."""
    for pid in sandbox.children():
        if pid in keep:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def become_subreaper(on=True):
    """Processes started under this one that lose their parent come to this one, not to init: the round can then
    make sure that nothing a killed grading process started outlives the round. Returns whether it was one before."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    before = ctypes.c_int(0)
    libc.prctl(37, ctypes.byref(before), 0, 0, 0)  # PR_GET_CHILD_SUBREAPER
    libc.prctl(36, int(on), 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    return bool(before.value)


def run_workers(state, plans):
    """Autograde every plan's pending students and write every graded student's feedback, ``state.jobs`` nbgrader
    commands at a time. Each assignment's class is dealt into ``jobs`` shares; when a command ends, the next one starts
    (the next assignment's, or the feedback of an assignment whose autograding is complete), so no core waits for the
    slowest share of an assignment."""
    assignments = list(plans)
    lines, ready, running = queue.Queue(), [], []
    progress = {assignment: 0 for assignment in plans}
    start_marker = re.compile(r"Sanitizing .*/submitted/([^/]+)/([^/]+)/")

    def feedback(assignment):
        print(f"{assignment}: generating feedback", flush=True)
        students = [s for s in plans[assignment].graded if (state.root / "autograded" / s / assignment).is_dir()]
        # Feedback is quick: one command per assignment, beside other assignments' grading, unless there are fewer
        # assignments than workers.
        shares = parallel.shares(students, state.jobs if len(plans) < state.jobs else 1)
        return [Worker("generate_feedback", assignment, n, share) for n, share in enumerate(shares, 1)]

    for assignment, plan in plans.items():
        plan.workers = [Worker("autograde", assignment, n, share)
                        for n, share in enumerate(parallel.shares(plan.pending, state.jobs), 1)]
        plan.waiting = len(plan.workers)
        ready += plan.workers or feedback(assignment)
    while ready or running:
        ready.sort(key=lambda w: w.order(assignments))
        while ready and len(running) < state.jobs:
            worker = ready.pop(0)
            _start(state, worker, lines)
            running.append(worker)
        worker, line = lines.get()
        if line is not None:
            worker.log.append(line)
            match = start_marker.search(line) if worker.command == "autograde" else None
            if match and match.group(2) == worker.assignment and match.group(1) not in worker.seen:
                now = time.monotonic()
                if worker.seen:  # a submission's time runs from its first log line to the next one's
                    state.seconds[(worker.assignment, worker.seen[-1])] = now - worker.started
                worker.seen.append(match.group(1))
                worker.started = now
                progress[worker.assignment] += 1
                where = f" (worker {worker.number})" if state.jobs > 1 else ""
                print(f"  {worker.assignment} [{progress[worker.assignment]}/{len(plans[worker.assignment].pending)}] "
                      f"autograding {match.group(1)}{where}", flush=True)
            continue
        worker.process.wait()
        running.remove(worker)
        if worker.death():
            # What it started and left behind: killed (the round is their subreaper), and its kernels' folder removed.
            kill_orphans(keep={w.process.pid for w in running} | state.bystanders)
            shutil.rmtree(sandbox.grader_folder(worker.process.pid), ignore_errors=True)
        plan = plans[worker.assignment]
        if worker.command == "autograde":
            if worker.seen and not worker.death():
                state.seconds[(worker.assignment, worker.seen[-1])] = time.monotonic() - worker.started
            plan.waiting -= 1
            if plan.waiting == 0:
                review_autograde(state, worker.assignment, plan)
                ready += feedback(worker.assignment)
        elif worker.process.returncode != 0:
            death = worker.death() or f"failed with status {worker.process.returncode}"
            for student in worker.students:
                state.no_feedback.append((worker.assignment, student))
                state.report(student, worker.assignment, f"no feedback: generate_feedback (worker {worker.number}) "
                             f"{death}. Run the round again. Its output ends:\n{''.join(worker.log[-20:])}")
    kill_orphans(keep=state.bystanders)


def review_autograde(state, assignment, plan):
    """After an assignment's autograding: its log, and a report of crashes, time-outs, tampering and submissions
    that a killed worker left ungraded."""
    log_lines = []
    for worker in plan.workers:
        if len(plan.workers) > 1:
            log_lines.append(f"===== worker {worker.number} (pid {worker.process.pid}): {worker.students}\n")
        log_lines += worker.log
    (state.root / f"autograde-{assignment}.log").write_text("".join(log_lines))
    lost = set()
    for worker in plan.workers:
        death = worker.death()
        for student in worker.students if death else []:
            if not autograded(state.root, assignment, student):
                lost.add(student)
                state.ungraded.append((assignment, student))
                # What nbgrader itself does with a submission that failed: no half-made autograded folder.
                shutil.rmtree(state.root / "autograded" / student / assignment, ignore_errors=True)
                state.report(student, assignment, f"NOT GRADED: the grading process (worker {worker.number}, pid "
                             f"{worker.process.pid}) {death} before finishing it. Run the round again: it grades "
                             "what is missing.")
    for worker in plan.workers:
        refusal = next((line.strip() for line in worker.log if "nbgrader autograde refused:" in line), None)
        if refusal is None or worker.death():
            continue
        for student in worker.students:
            if student not in lost and not autograded(state.root, assignment, student):
                lost.add(student)
                state.ungraded.append((assignment, student))
                state.report(student, assignment, f"NOT GRADED: grading could not start: {refusal}")
    failure = re.compile(r"grading infrastructure failure: ([^,]+), [^:]+: (.*)")
    for line in log_lines:
        match = failure.search(line)
        if match and match.group(1) in plan.runnable and match.group(1) not in lost:
            student = match.group(1)
            lost.add(student)
            state.ungraded.append((assignment, student))
            shutil.rmtree(state.root / "autograded" / student / assignment, ignore_errors=True)
            state.report(student, assignment, f"NOT GRADED: grading itself failed, not the student's code: "
                         f"{match.group(2).strip()}. Fix the cause (see autograde-{assignment}.log) and run the round "
                         "again.")
    for student in plan.runnable:
        if student not in plan.pending or student in lost:
            continue
        errors = _solution_cell_errors(state.root, assignment, student)
        if errors is None:
            state.report(student, assignment, "the kernel died while running the notebook (a crash, or os._exit in "
                         f"a cell): nothing was graded, so it scores 0. See autograde-{assignment}.log.")
        for cell, ename, message in errors or []:
            if any(limit in message for limit in ("No space left on device", "File too large")):
                state.report(student, assignment, f"cell {cell} wrote past the sandbox's limits ({message}): each of "
                             f"/tmp, /dev/shm and its own folder holds {sandbox.SCRATCH_BYTES // 2**20} MiB in memory, "
                             f"and no file may pass {sandbox.FILE_BYTES // 2**20} MiB; the tests that need it score 0.")
            elif ename == "KeyboardInterrupt":
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
        if match and match.group(1) in plan.runnable:
            state.report(match.group(1), assignment, f"suspected tampering: {match.group(2)} passed in the notebook "
                         f"but failed when the grader ran it outside the student's process ({match.group(3).strip()}); "
                         "it scores 0. Read the submission.")


def autograded(root, assignment, student):
    """Whether nbgrader finished autograding this submission: its notebook in autograded/ ran. (nbgrader writes the
    notebook there twice: cleaned of outputs before running it, and run; a process killed in between leaves the first.)"""
    path = autograded_notebook(root, assignment, student)
    try:
        cells = json.loads(path.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return any(cell.get("cell_type") == "code" and cell.get("execution_count") is not None for cell in cells)


def needs_grading(root, assignment, student):
    """Not autograded yet (or only partly), or a submitted file newer than its autograded notebook."""
    if not autograded(root, assignment, student):
        return True
    newest = max((p.stat().st_mtime for p in (Path(root) / "submitted" / student / assignment).rglob("*")
                  if p.is_file()), default=0.0)
    return newest > autograded_notebook(root, assignment, student).stat().st_mtime


@contextlib.contextmanager
def turn(root, name, waiting_message):
    """Hold ``.grading-locks/<name>.lock`` (two rounds on one course take turns); say so when waiting."""
    folder = Path(root) / ".grading-locks"
    folder.mkdir(exist_ok=True)
    with open(folder / f"{name}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(waiting_message, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def run_nbgrader(state, *arguments):
    try:
        classroom.run_nbgrader(state.root, *arguments)
    except RuntimeError as error:
        raise SystemExit(str(error)) from None


def scores(state, assignment):
    with gradebook(state.root) as book:
        return {row.student_id: (row.score, row.max_score) for row in book.assignment_submissions(assignment)}


def grading_round(root=".", assignments=None, jobs=None, force=False):
    jobs = len(os.sched_getaffinity(0)) if jobs is None else jobs
    if jobs < 1:
        raise SystemExit(f"--jobs must be at least 1 (got {jobs})")
    parallel.serialise_sqlite_gradebooks()
    # A caller that runs rounds in its own process (the grading benchmark, a test) gets its process back as it was: no
    # subreaper after the round, and its own children (a PostgreSQL server that pg_ctl left to it) alive.
    was_subreaper = become_subreaper()
    try:
        return _grading_round(root, assignments, jobs, force)
    finally:
        become_subreaper(was_subreaper)


def _grading_round(root, assignments, jobs, force):
    state = Round(find_course_root(root), jobs=jobs, bystanders=frozenset(sandbox.children()))
    submitted = state.root / "submitted"
    available = sorted({p.name for p in submitted.glob("*/*") if p.is_dir()}) if submitted.exists() else []
    assignments = list(dict.fromkeys(assignments or available))
    if not assignments:
        raise SystemExit(f"nothing to grade: put notebooks in {submitted}/<student>/<assignment>/<assignment>.ipynb")
    with gradebook(state.root) as book:
        roster = {student.id for student in book.students}
        known = {assignment.name for assignment in book.assignments}
    unknown = [assignment for assignment in assignments if assignment not in known]
    if unknown:
        raise SystemExit(f"{', '.join(unknown)} not in the gradebook: run `make release` (nbgrader generate_assignment) "
                         "first")
    print(f"Grading round in {state.root}: {count(len(roster), 'student')} in the gradebook, {jobs} "
          f"worker{'s' if jobs > 1 else ''}", flush=True)
    with contextlib.ExitStack() as turns:
        for assignment in sorted(assignments):  # always in the same order, so two rounds cannot wait for each other
            turns.enter_context(turn(state.root, assignment,
                                     f"{assignment}: waiting for another grading round of it to finish"))
        plans = {}
        for assignment in assignments:
            print(f"{assignment}: checking submitted/", flush=True)
            graded, runnable = preflight(state, assignment, roster)
            # Graded means graded in this gradebook: after a switch of gradebook (SQLite to PostgreSQL, a new file)
            # the autograded folders are there but their scores are not.
            with gradebook(state.root) as book:
                in_gradebook = {row.student_id for row in book.assignment_submissions(assignment)}
            pending = [s for s in graded
                       if force or s not in in_gradebook or needs_grading(state.root, assignment, s)]
            skipped = len(graded) - len(pending)
            print(f"{assignment}: autograding {count(len(pending), 'submission')}" +
                  (f" ({skipped} already graded and unchanged: skipped; make grade FORCE=1 regrades them)"
                   if skipped else ""), flush=True)
            plans[assignment] = Plan(graded, runnable, pending)
        run_workers(state, plans)
        table = {assignment: scores(state, assignment) for assignment in assignments}
    with turn(state.root, "export", "export: waiting for another grading round to finish its export"):
        run_nbgrader(state, "export")
    ungraded = set(state.ungraded)
    students = sorted({s for by_student in table.values() for s in by_student})
    print("\n| student | " + " | ".join(table) + " |\n|---|" + "---|" * len(table))
    for student in students:
        cells = ["NOT GRADED" if (a, student) in ungraded else
                 f"{table[a][student][0]:g}/{table[a][student][1]:g}" if student in table[a] else "-" for a in table]
        print(f"| {student} | " + " | ".join(cells) + " |")
    rows = report.class_report(state.root, assignments, unreadable=state.unreadable)
    report.write_csv(rows, state.root / "class-report.csv")
    text = report.summary(rows)
    print("\nWhat the class got wrong (failed tests, most frequent failures first):\n" + (text or "  nothing: every "
                                                                                        "test passed"))
    print(f"\ngrades: {state.root / 'grades.csv'}; what was failed, test by test: {state.root / 'class-report.csv'}; "
          f"feedback: {state.root / 'feedback'}; {len(state.problems)} problem(s) reported above.")
    if state.no_feedback:
        print(f"ROUND INCOMPLETE: {len(state.no_feedback)} feedback file(s) not written (a feedback process failed). "
              "Run the round again: it writes them.", flush=True)
    if state.ungraded:
        print(f"ROUND INCOMPLETE: {len(state.ungraded)} submission(s) not graded (see the lines marked NOT GRADED "
              "above). Run the round again once their cause is gone: it grades only what is missing.", flush=True)
    return state


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: every one with submissions)")
    parser.add_argument("--root", default=".", help="the course root (default: the current folder)")
    parser.add_argument("--jobs", "-j", type=int, default=None,
                        help="nbgrader commands side by side (default: one per core)")
    parser.add_argument("--force", action="store_true", help="regrade submissions already graded and unchanged")
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs must be at least 1 (got {args.jobs})")
    state = grading_round(args.root, args.assignments, args.jobs, args.force)
    if state.ungraded or state.no_feedback:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
