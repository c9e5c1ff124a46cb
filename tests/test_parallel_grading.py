"""`make grade --jobs N`: several nbgrader commands at once, over SQLite and over a real PostgreSQL server.

The class (two assignments): two complete submissions, the blank release, two wrong implementations from the
mutant tables, and a folder of a student who is not on the roster. A serial round (one worker, SQLite) is the
reference; every parallel round must leave the same scores, test by test, with every gradebook row present once.
PostgreSQL is a throw-away server in a temporary folder (``softcap_course.grading.postgres``: initdb + pg_ctl, a Unix
socket, no system service), skipped where Debian's postgresql package is missing, unless CI=true.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

import grading
from mutants import entries
from softcap_course.grading import classroom, parallel, postgres
from softcap_course.grading.instructor import autograded, count

ASSIGNMENTS = ["01-softmax", "02-logsumexp"]
ON_ROSTER = ["complete-1", "complete-2", "blank", "wrong-1", "wrong-2"]


def class_of(assignment):
    reference = grading.solution_sources(assignment)
    wrong = entries(assignment)[:2]
    return {"complete-1": grading.submission(assignment, reference),
            "complete-2": grading.submission(assignment, reference),
            "blank": grading.submission(assignment, {}),
            "wrong-1": grading.submission(assignment, {**reference, wrong[0].target: wrong[0].source}),
            "wrong-2": grading.submission(assignment, {**reference, wrong[1].target: wrong[1].source}),
            "stranger": grading.submission(assignment, reference)}


def new_course(root, db_url=None):
    grading.make_course(root, ASSIGNMENTS, db_url=db_url)
    classroom.enrol(root, ON_ROSTER)
    for assignment in ASSIGNMENTS:
        classroom.write_submissions(root, assignment, class_of(assignment))
    return root


def start_round(root, *arguments):
    """``python -m softcap_course.grading.instructor`` in the course at ``root``, its output in a pipe."""
    return subprocess.Popen([sys.executable, "-m", "softcap_course.grading.instructor", "--root", str(root), *arguments],
                            cwd=root, env=dict(classroom.tool_env(), NBGRADER_CELL_TIMEOUT="30"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process, timeout=900):
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def grade(root, *arguments):
    code, output = finish(start_round(root, *arguments))
    assert code == 0, output[-4000:]
    return output


def gradebook_rows(root):
    """(assignment, student) -> number of submission rows, and (assignment, student, test) -> number of grade rows."""
    from nbgrader.api import Grade, SubmittedAssignment

    with classroom.gradebook(root) as book:
        submissions = Counter((row.assignment.name, row.student.id) for row in book.db.query(SubmittedAssignment))
        grades = Counter((g.assignment.name, g.student.id, g.name) for g in book.db.query(Grade))
    return submissions, grades


def all_scores(root):
    return {assignment: {student: scores.by_test for student, scores in classroom.read_scores(root, assignment).items()}
            for assignment in ASSIGNMENTS}


def assert_same_round(root, reference_root):
    """Every row once, scores equal to the reference round's, feedback and grades.csv for every enrolled student."""
    submissions, grades = gradebook_rows(root)
    expected = {(a, s) for a in ASSIGNMENTS for s in ON_ROSTER}
    assert set(submissions) == expected and set(submissions.values()) == {1}, submissions
    tests = {a: set(grading.test_cells(a)) for a in ASSIGNMENTS}
    assert {key for key in grades if key[2] in tests[key[0]]} == {(a, s, t) for a, s in expected for t in tests[a]}
    assert set(grades.values()) == {1}, [key for key, count in grades.items() if count != 1]
    assert all_scores(root) == all_scores(reference_root)
    for assignment in ASSIGNMENTS:
        for student in ON_ROSTER:
            assert (Path(root) / "feedback" / student / assignment / f"{assignment}.html").exists()
    exported = (Path(root) / "grades.csv").read_text().splitlines()
    assert len(exported) == 1 + len(expected)


@pytest.fixture(scope="module")
def serial_round(tmp_path_factory):
    """The reference: one worker, SQLite, the classic way."""
    root = new_course(tmp_path_factory.mktemp("serial"))
    output = grade(root, "--jobs", "1", *ASSIGNMENTS)
    scores = all_scores(root)
    # The reference itself is right: complete submissions full marks, the blank and wrong ones less.
    for assignment in ASSIGNMENTS:
        maximum = sum(grading.test_cells(assignment).values())
        totals = {student: sum(score for score, _ in tests.values()) for student, tests in scores[assignment].items()}
        assert totals["complete-1"] == totals["complete-2"] == maximum
        assert totals["blank"] == 0 and totals["wrong-1"] < maximum and totals["wrong-2"] < maximum
    assert "! stranger: not on the roster" in output
    return root


@pytest.fixture(scope="module")
def postgresql():
    reason = postgres.problem()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no PostgreSQL server can start here: {reason}")
        pytest.skip(reason)
    with postgres.throwaway_server() as url:
        yield url


def test_two_workers_over_sqlite_give_the_serial_scores(serial_round, tmp_path):
    root = new_course(tmp_path)
    output = grade(root, "--jobs", "2", *ASSIGNMENTS)
    assert re.search(r"autograde worker 2 \(pid \d+\)", output), output[-3000:]
    assert_same_round(root, serial_round)
    # Each worker graded its own share: no submission started twice.
    started = re.findall(r"\[\d+/5\] autograding (\S+) \(worker \d\)", output)
    assert sorted(started) == sorted(ON_ROSTER * len(ASSIGNMENTS)), started
    # A second round has nothing left to grade, and says so.
    again = grade(root, "--jobs", "2", *ASSIGNMENTS)
    assert "autograding 0 submissions (5 already graded and unchanged: skipped" in again
    assert_same_round(root, serial_round)


def test_two_workers_over_postgresql_give_the_serial_scores(serial_round, postgresql, tmp_path):
    root = new_course(tmp_path, db_url=postgresql)
    assert classroom.course_db_url(root).startswith("postgresql")
    grade(root, "--jobs", "2", *ASSIGNMENTS)
    assert_same_round(root, serial_round)
    assert not (root / "gradebook.db").exists()  # everything went to the server


def test_rounds_at_once_and_a_killed_worker_lose_nothing(serial_round, tmp_path_factory):
    """Three rounds at once on one PostgreSQL gradebook (two on one assignment, which take turns), then a round whose
    worker is killed mid-grading: it says what it did not grade and exits 1; run again, it grades exactly that."""
    if postgres.problem():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no PostgreSQL server can start here: {postgres.problem()}")
        pytest.skip(postgres.problem())
    with postgres.throwaway_server() as url:
        root = new_course(tmp_path_factory.mktemp("at-once"), db_url=url)
        rounds = [start_round(root, "--jobs", "2", assignment) for assignment in (*ASSIGNMENTS, ASSIGNMENTS[0])]
        results = [finish(process) for process in rounds]
        for code, output in results:
            assert code == 0, output[-4000:]
        assert "waiting for another grading round of it to finish" in "".join(output for _, output in results)
        assert_same_round(root, serial_round)

    with postgres.throwaway_server() as url:  # a course of its own, so a database of its own
        killed_root = new_course(tmp_path_factory.mktemp("killed"), db_url=url)
        process = start_round(killed_root, "--jobs", "2", ASSIGNMENTS[0])
        lines, victim, killed = [], None, False
        for line in process.stdout:
            lines.append(line)
            match = re.search(r"autograde worker 1 \(pid (\d+)\)", line)
            if match:
                victim = int(match.group(1))
            if victim and not killed and re.search(r"autograding \S+ \(worker 1\)", line):
                time.sleep(0.5)  # mid-way through its first submission
                os.kill(victim, signal.SIGKILL)
                killed = True
        process.wait(timeout=900)
        output = "".join(lines)
        assert killed, output[-3000:]
        assert process.returncode == 1, output[-3000:]
        lost = re.findall(r"! (\S+): NOT GRADED: the grading process \(worker 1, pid \d+\) was killed by SIGKILL", output)
        assert lost and set(lost) <= set(ON_ROSTER), output[-3000:]
        assert "ROUND INCOMPLETE" in output
        for student in lost:
            assert not autograded(killed_root, ASSIGNMENTS[0], student)
        again = grade(killed_root, "--jobs", "2", ASSIGNMENTS[0])
        assert f"autograding {count(len(lost), 'submission')} ({5 - len(lost)} already graded and unchanged" in again, \
            again[-3000:]
        assert sorted(re.findall(r"autograding (\S+) \(worker", again)) == sorted(lost)
        assert all_scores(killed_root)[ASSIGNMENTS[0]] == all_scores(serial_round)[ASSIGNMENTS[0]]


# ------------------------------------------------------------------------ the parts, without running nbgrader


def test_shares_deal_the_class_round_robin_without_empty_shares():
    assert parallel.shares(["a", "b", "c", "d", "e"], 2) == [["a", "c", "e"], ["b", "d"]]
    assert parallel.shares(["a"], 4) == [["a"]]
    assert parallel.shares([], 3) == []
    students = [f"s{i}" for i in range(31)]
    dealt = parallel.shares(students, 3)
    assert sorted(sum(dealt, [])) == sorted(students) and max(map(len, dealt)) - min(map(len, dealt)) <= 1


def test_the_lock_file_is_beside_a_sqlite_file_and_absent_for_a_server(tmp_path):
    assert parallel.sqlite_lock_path(f"sqlite:///{tmp_path}/gradebook.db") == tmp_path / "gradebook.db.lock"
    assert parallel.sqlite_lock_path("postgresql+psycopg2://grader@/gradebook?host=/tmp/x") is None
    assert parallel.sqlite_lock_path("sqlite://") is None


def test_grade_only_limits_a_converter_to_its_share(monkeypatch):
    from nbgrader.converters.base import BaseConverter

    calls = []
    monkeypatch.setattr(BaseConverter, "init_destination", lambda self, a, s: calls.append(s) or True)
    parallel.grade_only(["ada", "alan"])
    parallel.grade_only(["ada"])  # a second call replaces the share, it does not stack
    decide = BaseConverter.init_destination
    assert [decide(None, "01-softmax", s) for s in ("ada", "alan", "grace")] == [True, False, False]
    assert calls == ["ada"]  # nbgrader's own decision is asked only for the share's students


WRITER = r"""
import sys, time
from softcap_course.grading import parallel
parallel.serialise_sqlite_gradebooks()
from nbgrader.api import Gradebook
url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    with Gradebook(url) as book:
        book.update_or_create_student(f"{name}-{i}")
        start = time.monotonic()
        book.find_student(f"{name}-{i}")
        time.sleep(0.002)  # a session's read-then-write, the pattern that makes SQLite refuse at once
        book.update_or_create_student(f"{name}-{i}", first_name=name)
        print(f"{start:.6f} {time.monotonic():.6f}", flush=True)
"""


def test_sqlite_sessions_of_several_processes_take_turns_and_none_is_refused(tmp_path):
    from nbgrader.api import Gradebook

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    Gradebook(url).close()  # create the tables once
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, url, f"w{n}", "40"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for n in range(4)]
    outputs = [writer.communicate(timeout=300) for writer in writers]
    for writer, (out, err) in zip(writers, outputs):
        assert writer.returncode == 0, err[-3000:]
    with Gradebook(url) as book:
        names = sorted(student.id for student in book.students)
    assert names == sorted(f"w{n}-{i}" for n in range(4) for i in range(40))
    # The sessions' critical parts never overlap across processes.
    spans = sorted(tuple(map(float, line.split())) for out, _ in outputs for line in out.splitlines())
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:]))


def test_throwaway_postgresql_server_starts_and_leaves_nothing(postgresql):
    from sqlalchemy import create_engine, text

    with postgres.throwaway_server(database="scratch") as url:
        folder = Path(re.search(r"host=(.*)$", url).group(1)).parent
        engine = create_engine(url)
        with engine.connect() as connection:
            assert connection.execute(text("select current_database()")).scalar() == "scratch"
            # Only the Unix socket: the server listens on no TCP port.
            assert connection.execute(text("show listen_addresses")).scalar() == ""
        engine.dispose()
        assert folder.is_dir()
    assert not folder.exists()


def test_a_bad_jobs_value_is_refused_with_a_message(tmp_path):
    result = subprocess.run([sys.executable, "-m", "softcap_course.grading.instructor", "--root", str(tmp_path), "--jobs", "0"],
                            capture_output=True, text=True, env=classroom.tool_env())
    assert result.returncode == 2 and "--jobs must be at least 1 (got 0)" in result.stderr


def test_the_round_reports_what_the_class_got_wrong(serial_round):
    """class-report.csv beside grades.csv: per test, how many failed and why (the checks' failure kinds and hints)."""
    import csv

    from softcap_course.grading import report

    rows = list(csv.DictReader(open(serial_round / "class-report.csv")))
    for assignment in ASSIGNMENTS:
        mine = [row for row in rows if row["assignment"] == assignment]
        assert {row["test"] for row in mine} == set(grading.test_cells(assignment))
        for test in grading.test_cells(assignment):  # the blank release fails every test as unwritten
            kinds = {row["failure"]: int(row["count"]) for row in mine if row["test"] == test}
            assert kinds.get("not written yet", 0) >= 1, (test, kinds)
            assert all(row["students"] == "5" for row in mine if row["test"] == test)
        for wrong in entries(assignment)[:2]:  # each wrong submission fails the test meant to catch it, with a reason
            failed = [row for row in mine if row["test"] == wrong.caught_by and row["failure"] != "not written yet"]
            assert failed and all(row["failure"] for row in failed), (wrong.name, failed)
    text = report.summary(report.class_report(serial_round, ASSIGNMENTS))
    assert re.search(r"test_\w+: [2-9] of 5 failed", text) and "x not written yet" in text, text


def test_the_class_report_names_each_failure_by_its_kind():
    """Unit: the report's kind and hint of one failing test cell, from the error nbgrader stored."""
    from softcap_course.grading.report import failure_of

    assert failure_of("NameError", "name 'predicted_naive_float32' is not defined") == (
        "not written yet", "predicted_naive_float32 is not defined: its answer cell never assigned it")
    assert failure_of("NotImplementedError", "")[0] == "not written yet"
    kind, hint = failure_of("AssertionError", "stable_softmax: wrong value\n  call:     stable_softmax(x)\n  expected 1.0\n  got nan\n"
                                              "  hint: subtract the row's maximum")
    assert (kind, hint) == ("wrong value", "subtract the row's maximum")
    assert failure_of("ValueError", "bad shape")[0] == "ValueError: bad shape"


def test_an_unreadable_notebook_is_named_by_what_is_wrong_with_the_file_and_counted_in_the_report(tmp_path):
    """Unit: the reason a student reads on the feedback page, for each way a file fails, and the report's row."""
    import nbformat

    from softcap_course.grading import report
    from softcap_course.grading.instructor import why_unreadable

    def reason(data):
        path = tmp_path / "a.ipynb"
        path.write_bytes(data)
        try:
            nbformat.read(str(path), as_version=4)
        except Exception as error:  # noqa: BLE001 (whatever nbformat raises is what the round sees)
            return why_unreadable(path, error)
        raise AssertionError("nbformat read it")

    assert reason(b"") == "the file is empty"
    assert "cut short" in reason(b'{"cells": [ {"cell_t')
    assert reason(b'{"cells": [},\n "metadata": {}}').startswith("the file is not JSON from line 1, column 12")
    assert "not UTF-8" in reason(b"\x89PNG\r\n\x1a\n\xff\xfe")
    assert reason(b'{"cells": 3}').startswith("the file is JSON but not a Jupyter notebook")
    rows = report.class_report(tmp_path, ["01-softmax"], unreadable=[("01-softmax", "carol")])
    assert rows[0][:4] == ("01-softmax", "(the whole notebook)", 1, 1) and "could not be read" in report.summary(rows)


def test_inline_math_that_wraps_a_line_becomes_mathml_and_a_blank_line_ends_it():
    """Unit: the feedback page's math. A soft line break inside $...$ (08's introduction has one) is still math; a
    dollar sign on one side of a paragraph break is not."""
    from softcap_course.grading.feedback import math_to_mathml

    assert "$" not in math_to_mathml("here $\\max(1,\n\\text{cap})$ since") and "<math" in math_to_mathml("$x$")
    assert math_to_mathml("costs $5 and\n\n$6 later") == "costs $5 and\n\n$6 later"
    assert math_to_mathml("`$x$` stays code") == "`$x$` stays code"


def test_a_lasting_server_in_a_folder_keeps_the_gradebook_across_restarts(postgresql):
    """`make postgres DIR=...`: a server of the course's own, as root too, that keeps its data when stopped."""
    from sqlalchemy import create_engine, text

    # A short path: the server's socket lives in the folder, and a socket's path may have at most 107 bytes.
    home = Path(tempfile.mkdtemp(prefix="softcap-pg-"))  # 0700, as pytest's tmp_path
    folder = home / "gradebook-server"
    if os.geteuid() == 0:  # a folder closed to others: the server's own user could not enter it
        refused = subprocess.run([sys.executable, "-m", "softcap_course.grading.postgres", "start", str(folder)],
                                 capture_output=True, text=True, timeout=180, env=classroom.tool_env())
        assert refused.returncode != 0 and "cannot enter" in refused.stderr and "chmod o+x" in refused.stderr, (
            refused.stderr)
        for parent in reversed([home, *home.parents]):
            if parent.stat().st_mode & 0o001 == 0:
                parent.chmod(parent.stat().st_mode | 0o001)
    result = subprocess.run([sys.executable, "-m", "softcap_course.grading.postgres", "start", str(folder)],
                            capture_output=True, text=True, timeout=180, env=classroom.tool_env())
    assert result.returncode == 0, result.stderr[-2000:]
    url = re.search(r"export NBGRADER_DB_URL='(.*)'", result.stdout).group(1)
    try:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("create table kept (x int)"))
            connection.execute(text("insert into kept values (42)"))
        engine.dispose()
        postgres.stop(folder)
        assert postgres.start(folder) == url  # started again, same database
        engine = create_engine(url)
        with engine.connect() as connection:
            assert connection.execute(text("select x from kept")).scalar() == 42
            assert connection.execute(text("show listen_addresses")).scalar() == ""
        engine.dispose()
    finally:
        postgres.stop(folder)
        shutil.rmtree(home, ignore_errors=True)


def test_a_server_folder_whose_socket_path_is_too_long_is_refused_with_the_reason(tmp_path):
    """A Unix socket's path has at most 107 bytes: a deep folder gets that reason, not pg_ctl's "could not start"."""
    folder = tmp_path / ("deep-" * 20) / "gradebook-server"
    result = subprocess.run([sys.executable, "-m", "softcap_course.grading.postgres", "start", str(folder)],
                            capture_output=True, text=True, timeout=180, env=classroom.tool_env())
    assert result.returncode != 0
    assert "a Unix socket's path may have at most 107" in result.stderr and "shorter path" in result.stderr, result.stderr
    assert not (folder / "data").exists(), "nothing is made for a server that cannot start"
