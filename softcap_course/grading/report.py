"""What the class got wrong: per assignment and test, how many students failed it, and the most frequent failures.

nbgrader says who scored what; it cannot say that 8 of the 11 students who failed ``test_stable_softmax_batches``
took the maximum of the whole batch. The checks' messages can: their first line names the kind of failure ("wrong
value", "not written yet", "raised ValueError") and their last part the hint chosen for the mistake. This module reads
them from the autograded notebooks, groups them, and writes ``class-report.csv`` beside ``grades.csv``.
"""

import csv
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from softcap_course.grading.classroom import nbgrader_meta

PREFIXES = ("this test passed inside the notebook but failed when the grader ran it outside the notebook's process "
            "(that result counts): ", "a hidden test of this cell failed: ")


def failure_of(ename, evalue):
    """(kind, hint) of one failing test cell's error: its message's first line without the call's name, and its hint."""
    message = str(evalue)
    for prefix in PREFIXES:
        if message.startswith(prefix):
            message = message[len(prefix):]
    lines = [line.strip() for line in message.splitlines()]
    first = lines[0] if lines else ename
    first = re.sub(r"^[A-Za-z]\w*Error: ", "", first)
    kind = re.sub(r"^[\w.]+: ", "", first) if re.match(r"^[\w.]+: \S", first) else first
    kind = kind if len(kind) <= 70 else kind[:67] + "..."
    hint = ""
    for index, line in enumerate(lines):
        if line.startswith("hint:"):
            hint = " ".join([line[len("hint:"):].strip(), *lines[index + 1:]]).strip()
            break
    undefined = re.match(r"name '(\w+)' is not defined", message) if ename == "NameError" else None
    if ename in ("NotImplementedError",) or "not written yet" in message:
        kind = "not written yet"
    elif undefined:  # an answer variable the student never assigned (its cell still raises NotImplementedError)
        kind, hint = "not written yet", f"{undefined.group(1)} is not defined: its answer cell never assigned it"
    elif ename not in ("AssertionError", "VerificationFailed", "HiddenTestFailed") and not kind.startswith(ename):
        kind = f"{ename}: {kind}"
    return kind, hint


UNREADABLE = ("(the whole notebook)", "could not be read: no test ran", "ask the student for a fresh copy")


def class_report(root, assignments, unreadable=()):
    """Rows (assignment, test, students graded, students failed, kind, hint, count), most frequent failures first.
    ``unreadable`` lists the (assignment, student) whose notebook could not be read: a row of their own."""
    rows = []
    for assignment in assignments:
        lost = sum(1 for a, _ in unreadable if a == assignment)
        if lost:
            rows.append((assignment, UNREADABLE[0], lost, lost, UNREADABLE[1], UNREADABLE[2], lost))
        graded, failures = Counter(), defaultdict(Counter)
        for path in sorted(Path(root).glob(f"autograded/*/{assignment}/{assignment}.ipynb")):
            try:
                cells = json.loads(path.read_text())["cells"]
            except (OSError, ValueError, KeyError):
                continue
            for cell in cells:
                meta = nbgrader_meta(cell)
                if not meta.get("grade") or meta.get("solution") or cell.get("cell_type") != "code":
                    continue
                graded[meta["grade_id"]] += 1
                error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
                if error is None and any(o.get("output_type") == "stream" and o.get("name") == "stderr"
                                         for o in cell.get("outputs", [])):
                    failures[meta["grade_id"]][("wrote to stderr", "")] += 1
                elif error is not None:
                    failures[meta["grade_id"]][failure_of(error.get("ename", ""), error.get("evalue", ""))] += 1
        for test, count in graded.items():
            failed = sum(failures[test].values())
            if not failed:
                rows.append((assignment, test, count, 0, "", "", 0))
            for (kind, hint), times in failures[test].most_common():
                rows.append((assignment, test, count, failed, kind, hint, times))
    return rows


def write_csv(rows, path):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["assignment", "test", "students", "failed", "failure", "hint", "count"])
        writer.writerows(rows)


def summary(rows, most=3):
    """The report as text: per assignment, the tests that someone failed, most failed first, with their top failures."""
    lines, by_assignment = [], defaultdict(dict)
    for assignment, test, students, failed, kind, hint, count in rows:
        if failed:
            entry = by_assignment[assignment].setdefault(test, [students, failed, []])
            entry[2].append((count, kind, hint))
    for assignment, tests in by_assignment.items():
        lines.append(f"{assignment}:")
        for test, (students, failed, kinds) in sorted(tests.items(), key=lambda item: -item[1][1]):
            lines.append(f"  {test}: {failed} of {students} failed")
            for count, kind, hint in kinds[:most]:
                # A general hint (NaN or inf, rounding) comes first and the test's own after " — ": keep the latter.
                hint = hint.rsplit(" — ", 1)[-1]
                lines.append(f"    {count} x {kind}" + (f" (hint: {hint if len(hint) <= 110 else hint[:107] + '...'})"
                                                     if hint else ""))
    return "\n".join(lines)
