"""Broken and hostile submissions, graded in one round (``make grade``) beside an honest one.

Each entry of the catalog states what it does, the score it must get on 01-softmax (14 points: naive_softmax
tests 4, stable_softmax tests 9, the prediction 1) and what the instructor must be told. Every entry is checked,
and so are the round as a whole: the honest score is unchanged, no gradebook row is lost or invented, no
submitted file is touched, and the feedback shows no hidden test.
"""

import hashlib
import html
import os
import re
import subprocess
import sys
from dataclasses import dataclass

import nbformat
import pytest

import grading
from mutants import entries

ASSIGNMENT = "01-softmax"
FULL, NAIVE_POINTS = 14.0, 4.0


@dataclass
class Hostile:
    name: str
    what: str
    score: float | None  # None: no gradebook row at all
    message: str = ""  # a regular expression the round's report must match for this student
    replace: dict | None = None  # solution cells to replace (grade_id -> source); the rest is the reference
    raw: str | None = None  # a file written as is instead of a notebook
    file_name: str | None = None  # submitted under another name
    on_roster: bool = True


def _wrong(target, name):
    return next(e.source for e in entries(ASSIGNMENT) if e.target == target and e.name == name)


PATCHING_CELL = '''
import math, numpy, torch
import softcap_course.checks as checks
numpy.allclose = lambda *args, **kwargs: True
numpy.isclose = lambda *args, **kwargs: True
numpy.testing.assert_allclose = lambda *args, **kwargs: None
math.isclose = lambda *args, **kwargs: True
torch.allclose = lambda *args, **kwargs: True
def expect_call(*args, **kwargs): pass
def expect_close(*args, **kwargs): pass
def expect(*args, **kwargs): pass
for name in ("expect_call", "expect_close", "expect_raises", "expect"):
    try:
        setattr(checks, name, lambda *args, **kwargs: None)
    except AttributeError:
        pass
'''

CACHED_NAIVE = '''
def naive_softmax(x, axis=-1):
    # Answers memorised from the visible tests; anything else gets a plausible-looking uniform vector.
    x = np.asarray(x)
    if x.dtype == np.float32 and x.tolist() == [1.0, 92.0, 3.0, 0.0, 2.0]:
        return np.array([0.0, np.nan, 0.0, 0.0, 0.0], dtype=np.float32)
    if x.shape == (4,) and np.all(x == x[0]):
        return np.full(4, 0.25)
    if x.shape == (4,):
        return np.array([0.1, 0.2, 0.3, 0.4])
    if x.shape == (2, 2):
        return np.array([[0.25, 0.5], [0.75, 0.5]])
    return np.full(x.shape, 1.0 / x.shape[-1], dtype=x.dtype if x.dtype.kind == "f" else np.float64)
'''

NOISY_BUT_CORRECT = '''
import sys, warnings
def naive_softmax(x, axis=-1):
    print("computing the naive softmax", file=sys.stderr)
    warnings.warn("this may overflow", RuntimeWarning)
    x = np.asarray(x)
    x = x if x.dtype.kind == "f" else x.astype(np.float64)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)
'''

# Attacks on the process that judges: each makes every test cell after it pass inside the kernel, whatever the
# functions return. The verification outside the kernel must take the points back and report them.
REPLACED_CHECKS = '''
import sys, types
fake = types.ModuleType("softcap_course.checks")
for name in ("expect_call", "expect_close", "expect_raises", "expect", "expect_gradient"):
    setattr(fake, name, lambda *args, **kwargs: None)
sys.modules["softcap_course.checks"] = fake
def naive_softmax(x, axis=-1):
    return np.zeros(3)
'''

HOOKED_IPYTHON = '''
# Every cell after this one runs as `pass`: the test cells cannot fail any more.
get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])
def naive_softmax(x, axis=-1):
    return None
'''

# Reads the instructor's reference solution from the course folder while grading, and uses it.
READS_THE_SOLUTION = '''
import json, pathlib
here = pathlib.Path.cwd()
source = next(p for p in [here, *here.parents] if (p / "solutions").is_dir()) / "solutions" / "01-softmax" / "01-softmax.ipynb"
cells = json.loads(source.read_text())["cells"]
exec(next("".join(c["source"]) for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id") == "naive_softmax"))
'''

# Starts a process that outlives the notebook, then empties the gradebook and overwrites another student's file.
LINGERING_MARKER = "softcap-hostile-lingering-7f3a"
LINGERING = '''
import subprocess, sys, textwrap
later = textwrap.dedent("""
    import pathlib, time
    time.sleep(3)  # MARKER: by now the round has moved on
    for folder in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents]:
        if (folder / "gradebook.db").exists():
            (folder / "gradebook.db").write_bytes(b"")
        for victim in folder.glob("submitted/honest/*/*.ipynb"):
            victim.write_text("{}")
    time.sleep(120)
""")
subprocess.Popen([sys.executable, "-c", later], start_new_session=True, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
def naive_softmax(x, axis=-1):
    return None
'''.replace("MARKER", LINGERING_MARKER)

CATALOG = [
    Hostile("honest", "the reference solutions, untouched", FULL),
    Hostile("replaced_checks", "replaces softcap_course.checks in sys.modules by do-nothing checks; naive_softmax "
            "returns zeros", FULL - NAIVE_POINTS,
            r"suspected tampering: test_naive_softmax_values passed in the notebook but failed",
            {"naive_softmax": REPLACED_CHECKS}),
    Hostile("hooked_ipython", "an IPython input transformer turns every later cell into `pass`; naive_softmax "
            "returns None", FULL - NAIVE_POINTS, r"suspected tampering: test_naive_softmax_values",
            {"naive_softmax": HOOKED_IPYTHON}),
    Hostile("reads_the_solution", "reads the reference naive_softmax from solutions/ during grading and runs it",
            FULL - NAIVE_POINTS, "", {"naive_softmax": READS_THE_SOLUTION}),  # the sandbox shows no solutions/
    Hostile("lingering_process", "starts a detached process that waits, then empties the gradebook and overwrites "
            "another student's submission; naive_softmax returns None", FULL - NAIVE_POINTS, "",
            {"naive_softmax": LINGERING}),
    Hostile("infinite_loop", "`while True: pass` in the naive_softmax cell", FULL - NAIVE_POINTS,
            r"naive_softmax was interrupted at the time limit", {"naive_softmax": "while True:\n    pass"}),
    Hostile("sys_exit", "`sys.exit()` at the top of the naive_softmax cell", FULL - NAIVE_POINTS,
            r"naive_softmax raised SystemExit", {"naive_softmax": "import sys\nsys.exit()"}),
    Hostile("os_exit", "`os._exit(1)` in a solution cell kills the kernel", 0.0, r"kernel died",
            {"naive_softmax": "import os\nos._exit(1)"}),
    Hostile("kernel_crash", "a segmentation fault (ctypes reads address 0)", 0.0, r"kernel died",
            {"naive_softmax": "import ctypes\nctypes.string_at(0)"}),
    Hostile("huge_memory", "allocates 12 GiB before defining naive_softmax", FULL - NAIVE_POINTS,
            r"naive_softmax raised MemoryError", {"naive_softmax": "hog = b'x' * (12 * 2**30)"}),
    Hostile("edited_tests", "replaces every test cell by `pass` and returns None from naive_softmax",
            FULL - NAIVE_POINTS, r"edited test cells \[.*test_naive_softmax_values",
            {"naive_softmax": "def naive_softmax(x, axis=-1):\n    return None"}),
    Hostile("deleted_tests", "deletes the naive_softmax test cells; correct code", FULL,
            r"deleted test cells \['test_naive_softmax_dtype', 'test_naive_softmax_overflows', 'test_naive_softmax_values'\]"),
    Hostile("patched_helpers", "a wrong stable_softmax (no shift) plus a cell that patches np.allclose, np.isclose, "
            "np.testing.assert_allclose, math.isclose, torch.allclose and redefines the course's checks",
            None, r"assigns to comparison helpers",
            {"stable_softmax": _wrong("stable_softmax", "no_shift") + "\n" + PATCHING_CELL}),
    Hostile("no_shift_twin", "the same wrong stable_softmax without any patching (the score to match)", None, "",
            {"stable_softmax": _wrong("stable_softmax", "no_shift")}),
    Hostile("cached_answers", "naive_softmax returns memorised answers for the visible inputs only",
            FULL - NAIVE_POINTS, "", {"naive_softmax": CACHED_NAIVE}),
    Hostile("printed_pass", "prints nbgrader's success message; naive_softmax secretly shifts by the max",
            FULL - 1.0, "", {"naive_softmax": _wrong("naive_softmax", "shifts_by_the_max")
                             + "\nprint('Success! Your notebook passes all the tests.')\nprint('All tests passed')"}),
    Hostile("noisy_but_correct", "correct, but warns and prints to stderr inside naive_softmax", FULL, "",
            {"naive_softmax": NOISY_BUT_CORRECT}),
    Hostile("invalid_json", "a truncated file that is not JSON", 0.0, r"not a valid notebook", raw='{"cells": [ {"cell_t'),
    Hostile("wrong_file_name", "the notebook saved as 'softmax final.ipynb'", 0.0,
            r"found: \['softmax final.ipynb'\].*rename it", file_name="softmax final.ipynb"),
    Hostile("not_on_roster", "a folder for a student who is not enrolled", None, r"not on the roster",
            on_roster=False),
]
BY_NAME = {h.name: h for h in CATALOG}


def _submission_notebook(hostile):
    reference = grading.solution_sources(ASSIGNMENT)
    notebook = grading.submission(ASSIGNMENT, {**reference, **(hostile.replace or {})})
    if hostile.name == "edited_tests":
        for cell in notebook.cells:
            if grading.nbgrader_meta(cell).get("grade"):
                cell.source = "pass"
    if hostile.name == "deleted_tests":
        notebook.cells = [c for c in notebook.cells
                          if not grading.nbgrader_meta(c).get("grade_id", "").startswith("test_naive_softmax")]
    return notebook


def _digest(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / "submitted").rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded_round(tmp_path_factory):
    root = grading.make_course(tmp_path_factory.mktemp("hostile"), [ASSIGNMENT])
    grading.enrol(root, [h.name for h in CATALOG if h.on_roster])
    for hostile in CATALOG:
        path = root / "submitted" / hostile.name / ASSIGNMENT / (hostile.file_name or f"{ASSIGNMENT}.ipynb")
        path.parent.mkdir(parents=True)
        if hostile.raw is not None:
            path.write_text(hostile.raw)
        else:
            nbformat.write(_submission_notebook(hostile), str(path))
    before = _digest(root)
    env = dict(os.environ, NBGRADER_CELL_TIMEOUT="5",
               PATH=f"{grading.BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run([sys.executable, "-m", "softcap_course.grading.instructor", ASSIGNMENT, "--root", str(root)],
                            env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # Kept for a human to read: what an instructor sees after such a round.
    (grading.REPO / "_build").mkdir(exist_ok=True)
    (grading.REPO / "_build" / "hostile-round.txt").write_text(result.stdout)
    return root, grading.read_scores(root, ASSIGNMENT), result.stdout, before


def _report_lines(report, student):
    return [line for line in report.splitlines() if line.strip().startswith(f"! {student}:")]


def test_the_catalog_is_large_enough():
    hostile_kinds = [h for h in CATALOG if h.name not in ("honest", "no_shift_twin")]
    assert len(hostile_kinds) >= 16


@pytest.mark.parametrize("hostile", CATALOG, ids=[h.name for h in CATALOG])
def test_each_submission_gets_its_expected_score_and_message(hostile, graded_round):
    root, scores, report, _ = graded_round
    if hostile.score is not None:
        assert hostile.name in scores, f"{hostile.name}: no gradebook row"
        assert scores[hostile.name].total == hostile.score, (
            f"{hostile.name} ({hostile.what}) scored {scores[hostile.name].total}, expected {hostile.score}: "
            f"lost {scores[hostile.name].lost()}\n{grading.failing_outputs(root, ASSIGNMENT, hostile.name)}")
    lines = _report_lines(report, hostile.name)
    if hostile.message:
        assert any(re.search(hostile.message, line) for line in lines), (
            f"{hostile.name}: the instructor is not told /{hostile.message}/; the report says {lines}")
    else:
        assert not lines, f"{hostile.name}: nothing should be reported, yet {lines}"


def test_patching_the_comparison_helpers_earns_nothing(graded_round):
    _, scores, _, _ = graded_round
    patched, twin = scores["patched_helpers"], scores["no_shift_twin"]
    assert patched.by_test == twin.by_test
    assert patched.total < FULL


def test_cached_answers_lose_every_test_of_the_function(graded_round):
    _, scores, _, _ = graded_round
    naive = {k: v for k, v in scores["cached_answers"].by_test.items() if k.startswith("test_naive_softmax")}
    assert all(score == 0 for score, _ in naive.values()), naive


def test_no_gradebook_row_is_lost_or_invented(graded_round):
    _, scores, _, _ = graded_round
    assert set(scores) == {h.name for h in CATALOG if h.on_roster}
    assert "not_on_roster" not in scores


def test_no_submitted_file_is_changed(graded_round):
    root, _, _, before = graded_round
    assert _digest(root) == before


def test_grades_are_exported_for_every_enrolled_student(graded_round):
    root, _, _, _ = graded_round
    exported = (root / "grades.csv").read_text()
    for hostile in CATALOG:
        assert (hostile.name in exported) == hostile.on_roster, hostile.name


def test_feedback_shows_no_hidden_test(graded_round):
    root, _, _, _ = graded_round
    hidden = []
    for cell in grading.read_notebook(grading.notebook_path("solutions", ASSIGNMENT)).cells:
        for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", cell.source, flags=re.S):
            hidden += [line.strip() for line in block.splitlines() if len(line.strip()) > 20 and "#" not in line]
    visible = "\n".join(c.source for c in grading.read_notebook(grading.notebook_path("notebooks", ASSIGNMENT)).cells)
    hidden = [line for line in hidden if line not in visible]  # a hint may appear in both parts of a cell
    assert hidden
    for student in ("honest", "cached_answers", "edited_tests"):
        page = (root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        text = html.unescape(re.sub(r"<[^>]+>", "", page))
        leaked = [line for line in hidden if line in text]
        assert not leaked and "HIDDEN TESTS" not in text, f"{student}'s feedback shows hidden tests: {leaked[:3]}"


def test_no_process_of_a_submission_outlives_the_round(graded_round):
    # The lingering process sleeps 3 s before it strikes: wait past that, then look for it anywhere on the machine.
    import time

    time.sleep(4)
    alive = subprocess.run(["pgrep", "-f", LINGERING_MARKER], capture_output=True, text=True).stdout.split()
    assert not alive, f"processes started by a submission are still running: {alive}"
    root, _, _, before = graded_round
    assert _digest(root) == before
    assert grading.read_scores(root, ASSIGNMENT)["honest"].total == FULL


PROBE = """
import os, socket, sys
seen = [p for p in sys.argv[2:] if os.path.exists(p)]
try:
    socket.create_connection(("127.0.0.1", 22), timeout=2)
    network = "open"
except OSError as error:
    network = type(error).__name__
def writable(path):
    try:
        open(path, "w").write("x")
        return True
    except OSError:
        return False
print(repr((seen, network, writable(sys.argv[1] + "/written"), os.getpid())))
writable(sys.argv[1] + "-escaped")  # outside its folder: at best a private, throw-away copy
"""


def test_the_sandbox_hides_the_course_and_the_network():
    """What a sandboxed process sees: its own folder, a read-only Python, no course files, no home, no network."""
    import ast

    from softcap_course.grading import sandbox

    own = grading.REPO / "_build" / "sandbox-probe"
    own.mkdir(parents=True, exist_ok=True)
    (own.parent / "sandbox-probe-escaped").unlink(missing_ok=True)
    hidden = [str(grading.REPO / d) for d in ("solutions", "notebooks", "tests", "gradebook.db")]
    hidden += [os.path.expanduser("~/.bashrc"), str(grading.REPO.parent / "shared")]
    result = subprocess.run(sandbox.command([sys.executable, "-c", PROBE, own, *hidden], writable=[own], cwd=own),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    seen, network, own_writable, pid = ast.literal_eval(result.stdout.strip())
    assert not seen, f"the sandbox shows {seen}"
    assert network != "open", "the sandbox reached the network"
    assert own_writable and (own / "written").exists()
    assert not (own.parent / "sandbox-probe-escaped").exists(), "a write outside its folder reached the disk"
    assert pid < 10, f"the sandbox has its own process namespace (pid {pid})"


PATCHED_MEMORY_TRACKER = '''
import softcap_course.memory as _memory

def _nothing_held(function, *args, **kwargs):
    return function(*args, **kwargs), 0, 0

# The memory test imports peak_tensor_bytes from this module: make it report nothing, here and in the globals.
_memory.peak_tensor_bytes = _nothing_held
peak_tensor_bytes = _nothing_held
'''


def test_a_patched_memory_tracker_earns_nothing_in_chapter_6(tmp_path):
    """06: materialised logits behind a memory tracker patched to report nothing lose the memory test's points."""
    assignment = "06-softcap-gpu"
    root = grading.make_course(tmp_path, [assignment])
    reference = grading.solution_sources(assignment)
    wrong = next(e for e in entries(assignment) if e.name == "materialises_the_full_logits")
    submission = grading.submission(assignment, {**reference, wrong.target: wrong.source + "\n" + PATCHED_MEMORY_TRACKER})
    scores = grading.autograde(root, assignment, {"patched_tracker": submission})["patched_tracker"]
    assert scores.lost() == {"test_chunked_linear_softcap_cross_entropy_memory": (0.0, 2.0)}, scores.lost()
    log = (root / f"autograde-{assignment}.log").read_text()
    assert "suspected tampering: patched_tracker" in log and "test_chunked_linear_softcap_cross_entropy_memory" in log


FAKE_CHECKS_FOR_A_KERNEL = '''
import sys, types
import softcap_course.checks as real_checks
fake = types.ModuleType("softcap_course.checks")
for name in ("expect_call", "expect_close", "expect_raises", "expect", "expect_gradient"):
    setattr(fake, name, lambda *args, **kwargs: None)
fake.quietly = real_checks.quietly  # warnings stay out of stderr, as with the real checks
sys.modules["softcap_course.checks"] = fake
'''


def test_replaced_checks_earn_nothing_for_a_triton_kernel_in_chapter_7(tmp_path):
    """07: a kernel without the online rescaling, behind checks replaced in sys.modules by do-nothing ones, scores what
    the same kernel scores unreplaced: the kernel is launched again outside the notebook, in the verification worker,
    and judged there."""
    assignment = "07-softcap-triton"
    root = grading.make_course(tmp_path, [assignment])
    reference = grading.solution_sources(assignment)
    wrong = next(e for e in entries(assignment) if e.name == "no_online_rescaling")
    submissions = {"patched": grading.submission(assignment, {**reference, wrong.target: FAKE_CHECKS_FOR_A_KERNEL + wrong.source}),
                   "unpatched": grading.submission(assignment, {**reference, wrong.target: wrong.source})}
    scores = grading.autograde(root, assignment, submissions)
    assert scores["unpatched"].lost(), "the wrong kernel must lose points"
    assert scores["patched"].by_test == scores["unpatched"].by_test, (scores["patched"].lost(), scores["unpatched"].lost())
    log = (root / f"autograde-{assignment}.log").read_text()
    assert "suspected tampering: patched" in log and "test_softcap_cross_entropy_kernel_blocks" in log
