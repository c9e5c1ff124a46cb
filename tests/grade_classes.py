"""The grading tests' classes, autograded in a process of their own while pytest runs the other tests.

``python tests/grade_classes.py BASE ASSIGNMENT...`` makes a scratch course ``BASE/<assignment>`` for each assignment
and autogrades its class there: the reference solutions, the untouched release, and one student per entry of the
assignment's mutant table. Two classes are graded at once (one nbgrader process per core), the longest first. When a
class is done, ``BASE/<assignment>/graded`` appears (the scores are in that course's gradebook); if grading it failed,
``BASE/<assignment>/failed`` holds the error.

A process, not threads of pytest's: the tests fork processes of their own (chapter 8's ranks), which must never be
forked while another thread of the same process is in the middle of an import or a database call.
"""

import os
import signal
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grading  # noqa: E402
from mutants import entries  # noqa: E402

# Rough seconds per submission on 2 cores (benchmarks/grading): only to start the longest classes first.
SECONDS_PER_SUBMISSION = {"04-temperature": 4.0, "06-softcap-gpu": 8.0, "07-softcap-triton": 12.0,
                          "08-vocab-parallel": 8.0}


def student_id(entry):
    return f"{entry.kind}-{entry.target}-{entry.name}"


def grade_class(root, assignment):
    """Release ``assignment`` in a scratch course at ``root`` and autograde its whole class there; returns
    (root, student -> Scores)."""
    grading.make_course(root, [assignment])
    reference = grading.solution_sources(assignment)
    submissions = {"solution": grading.submission(assignment, reference),
                   "blank": grading.submission(assignment, {})}
    for entry in entries(assignment):
        submissions[student_id(entry)] = grading.submission(assignment, {**reference, entry.target: entry.source})
    return root, grading.autograde(root, assignment, submissions)


def expected_seconds(assignment):
    return (len(entries(assignment)) + 2) * SECONDS_PER_SUBMISSION.get(assignment, 2.5)


def _say(text):
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


def _grade_and_mark(base, assignment):
    root = Path(base) / assignment
    _say(f"grading the class of {assignment}")
    try:
        grade_class(root, assignment)
    except BaseException:  # noqa: BLE001 (whatever it was, the test waiting for this class reports it)
        root.mkdir(parents=True, exist_ok=True)
        (root / "failed").write_text(traceback.format_exc())
        _say(f"grading the class of {assignment} failed")
        return
    (root / "graded").write_text("")
    _say(f"graded the class of {assignment}")


def main(base, assignments):
    # A signal that ends this process is said in its log (the test that waits for a class quotes it).
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, lambda signum, frame: (_say(f"stopped by {signal.Signals(signum).name}"), os._exit(1)))
    with ThreadPoolExecutor(max_workers=2) as pool:
        for assignment in sorted(assignments, key=expected_seconds, reverse=True):
            pool.submit(_grade_and_mark, base, assignment)
    _say("every class graded")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
