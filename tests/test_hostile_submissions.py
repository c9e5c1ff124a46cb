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
import time
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

# Writes past every limit of the sandbox: its /tmp, its /dev/shm and its own folder (each a tmpfs of 256 MiB in memory).
WRITES_PAST_ITS_LIMITS = '''
import os
for folder in ("/dev/shm", "/tmp", os.getcwd()):
    with open(os.path.join(folder, "hog"), "wb") as hog:
        for _ in range(400):
            hog.write(b"x" * 2**20)
'''

CORRECT_NAIVE = '''
def naive_softmax(x, axis=-1):
    x = np.asarray(x)
    x = x if x.dtype.kind == "f" else x.astype(np.float64)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)
'''

# Output that would run as the instructor in the formgrader and the feedback page: the scripts set the page's title.
SCRIPT_MARKER = "pwned-by-a-student"
DISPLAYS_A_SCRIPT = '''
from IPython.display import HTML, Javascript, Markdown, display
display(HTML('<b>look</b><script>document.title = "MARKER"</script><img src="x" onerror="document.title = \\'MARKER\\'">'))
display(Javascript('document.title = "MARKER"'))
display(Markdown('<img src="y" onerror="document.title = \\'MARKER\\'"> and <script>document.title = "MARKER"</script>'))
'''.replace("MARKER", SCRIPT_MARKER) + CORRECT_NAIVE

# Looks for its classmates' processes (two submissions are graded at once) to signal, trace or read them.
CLASSMATES_MARKER = "processes-seen-outside-my-own"
LOOKS_FOR_A_CLASSMATE = '''
import ctypes, os, signal
mine = {os.getpid(), os.getppid(), 1}
seen = []
for name in os.listdir("/proc"):
    if name.isdigit() and int(name) not in mine:
        seen.append(name)
        try:
            os.kill(int(name), signal.SIGKILL)
        except OSError:
            pass
        try:
            ctypes.CDLL(None).ptrace(16, int(name), 0, 0)  # PTRACE_ATTACH
        except OSError:
            pass
        try:
            open(f"/proc/{name}/environ").read()
        except OSError:
            pass
print("MARKER", seen)
'''.replace("MARKER", CLASSMATES_MARKER) + CORRECT_NAIVE

# Kernels are forked one after another from the same warm sandbox: leave something there for the next submission's
# kernel. An IPython start-up file would print the marker after every cell of every later kernel that ran it, a file
# named after the marker would show in the listing of `looks_for_traces` (graded after it by the same worker), and so
# would its code in that kernel's memory, had the sandbox they were forked from ever held it.
TRAP_MARKER = "softcap-hostile-trap-5c21"
A_TRAP_FOR_THE_NEXT = '''
import os, pathlib, subprocess, sys
startup = pathlib.Path(os.environ.get("IPYTHONDIR", pathlib.Path.home() / ".ipython")) / "profile_default" / "startup"
startup.mkdir(parents=True, exist_ok=True)
(startup / "00-trap.py").write_text("get_ipython().events.register('post_run_cell', lambda *a: print('MARKER'))")
for folder in ("/tmp", "/dev/shm", "..", "../.."):
    try:
        pathlib.Path(folder, "MARKER").write_text("left for the next kernel")
    except OSError:
        pass
ballast = "QQQQ"  # a run that only this submission's code holds: a later kernel that finds it in its memory read it
'''.replace("MARKER", TRAP_MARKER).replace("QQQQ", "q" * 300) + CORRECT_NAIVE
TRACES_MARKER = "what-a-kernel-finds-around-it"
LOOKS_FOR_TRACES = '''
import os, re
found = {folder: sorted(os.listdir(folder)) for folder in ("/tmp", "/dev/shm", "..", "../..")}
print("MARKER", found, open("/proc/sysvipc/shm").read().splitlines()[1:])
# Its own memory, copied from the sandbox it was forked from: does it hold the trap's code?
run, copies = re.compile(b"q{300}"), 0
with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as memory:
    for mapping in maps:
        start, end = (int(bound, 16) for bound in mapping.split()[0].split("-"))
        if mapping.split()[1].startswith("rw") and end - start < 2**28:
            try:
                memory.seek(start)
                copies += len(run.findall(memory.read(end - start)))
            except OSError:
                pass
print("MARKER-memory", copies)
'''.replace("MARKER", TRACES_MARKER) + CORRECT_NAIVE
# The kernel's parent is the warm sandbox's zygote: killing it ends this kernel's own sandbox, nobody else's.
KILLS_ITS_ZYGOTE = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + CORRECT_NAIVE

CATALOG = [
    Hostile("honest", "the reference solutions, untouched", FULL),
    Hostile("writes_past_its_limits", "writes 400 MiB into its /dev/shm, /tmp and own folder before defining "
            "naive_softmax", FULL - NAIVE_POINTS, r"naive_softmax wrote past the sandbox's limits",
            {"naive_softmax": WRITES_PAST_ITS_LIMITS}),
    Hostile("displays_a_script", "correct, and displays HTML with a <script> and an onerror handler, a Javascript "
            "output and Markdown with both", FULL, "", {"naive_softmax": DISPLAYS_A_SCRIPT}),
    Hostile("looks_for_a_classmate", "correct, and first looks for other processes (two submissions are graded at "
            "once) to kill, trace and read them", FULL, "", {"naive_softmax": LOOKS_FOR_A_CLASSMATE}),
    Hostile("a_trap_for_the_next", "correct, and leaves an IPython start-up file and files in /tmp, /dev/shm and its "
            "folder's parents for the kernels forked after it", FULL, "", {"naive_softmax": A_TRAP_FOR_THE_NEXT}),
    Hostile("looks_for_traces", "correct, and first lists /tmp, /dev/shm, its folder's parents and the shared memory "
            "segments it can see, and searches its own memory for the trap's code", FULL, "",
            {"naive_softmax": LOOKS_FOR_TRACES}),
    Hostile("kills_its_zygote", "kills its kernel's parent (the warm sandbox it was forked from) in a solution cell",
            0.0, r"kernel died", {"naive_softmax": KILLS_ITS_ZYGOTE}),
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


MEMORY_KEPT = 600 * 2**20  # less available memory after the round than this is a leak


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
    machine = _free_disk_and_memory(root)
    # Two workers: two submissions are graded at once, so one can look for the other.
    result = subprocess.run([sys.executable, "-m", "softcap_course.grading.instructor", ASSIGNMENT, "--root", str(root),
                             "--jobs", "2"], env=env, capture_output=True, text=True, timeout=900)
    machine_after = _free_disk_and_memory(root)
    # The kernel gives back what a finished sandbox held (its tmpfs folders, its namespaces) after its processes are
    # gone, asynchronously, and later on a busy machine: wait up to 30 s for it. A process the round left alive, or a
    # file it left in a shared tmpfs, keeps its memory, and test_the_machine_keeps_its_disk_and_memory still fails.
    settled = time.monotonic() + 30
    while machine[2] - machine_after[2] >= MEMORY_KEPT and time.monotonic() < settled:
        time.sleep(1)
        machine_after = _free_disk_and_memory(root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # Kept for a human to read: what an instructor sees after such a round.
    (grading.REPO / "_build").mkdir(exist_ok=True)
    (grading.REPO / "_build" / "hostile-round.txt").write_text(result.stdout)
    return root, grading.read_scores(root, ASSIGNMENT), result.stdout, before, (machine, machine_after)


def _free_disk_and_memory(root):
    """Free bytes on the course's disk, in /tmp, and available memory."""
    import shutil

    with open("/proc/meminfo") as meminfo:
        available = next(int(line.split()[1]) * 1024 for line in meminfo if line.startswith("MemAvailable"))
    return shutil.disk_usage(root).free, shutil.disk_usage("/tmp").free, available


def _report_lines(report, student):
    return [line for line in report.splitlines() if line.strip().startswith(f"! {student}:")]


def test_the_catalog_is_large_enough():
    hostile_kinds = [h for h in CATALOG if h.name not in ("honest", "no_shift_twin")]
    assert len(hostile_kinds) >= 16


@pytest.mark.parametrize("hostile", CATALOG, ids=[h.name for h in CATALOG])
def test_each_submission_gets_its_expected_score_and_message(hostile, graded_round):
    root, scores, report, _, _ = graded_round
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
    _, scores, _, _, _ = graded_round
    patched, twin = scores["patched_helpers"], scores["no_shift_twin"]
    assert patched.by_test == twin.by_test
    assert patched.total < FULL


def test_cached_answers_lose_every_test_of_the_function(graded_round):
    _, scores, _, _, _ = graded_round
    naive = {k: v for k, v in scores["cached_answers"].by_test.items() if k.startswith("test_naive_softmax")}
    assert all(score == 0 for score, _ in naive.values()), naive


def test_no_gradebook_row_is_lost_or_invented(graded_round):
    _, scores, _, _, _ = graded_round
    assert set(scores) == {h.name for h in CATALOG if h.on_roster}
    assert "not_on_roster" not in scores


def test_no_submitted_file_is_changed(graded_round):
    root, _, _, before, _ = graded_round
    assert _digest(root) == before


def test_grades_are_exported_for_every_enrolled_student(graded_round):
    root, _, _, _, _ = graded_round
    exported = (root / "grades.csv").read_text()
    for hostile in CATALOG:
        assert (hostile.name in exported) == hostile.on_roster, hostile.name


def test_feedback_shows_no_hidden_test(graded_round):
    root, _, _, _, _ = graded_round
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
    root, _, _, before, _ = graded_round
    assert _digest(root) == before
    assert grading.read_scores(root, ASSIGNMENT)["honest"].total == FULL


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
for name in real_checks.__all__:  # every check does nothing (and passes)
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


def test_the_machine_keeps_its_disk_and_memory(graded_round):
    """What a submission wrote lived in its sandbox's memory-backed folders, bounded, and went with it."""
    _, scores, report, _, ((disk, tmp, memory), (disk_after, tmp_after, memory_after)) = graded_round
    assert disk - disk_after < 100 * 2**20 and tmp - tmp_after < 100 * 2**20, (disk - disk_after, tmp - tmp_after)
    assert memory - memory_after < MEMORY_KEPT, f"{(memory - memory_after) / 2**20:.0f} MiB less memory available"


def test_a_submission_sees_no_classmate(graded_round):
    root, _, _, _, _ = graded_round
    notebook = grading.read_notebook(root / "autograded" / "looks_for_a_classmate" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    printed = "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    assert f"{CLASSMATES_MARKER} []" in printed, printed[:2000]


def test_nothing_a_submission_leaves_reaches_a_later_kernel(graded_round):
    root, _, report, _, _ = graded_round
    printed = {}
    for hostile in CATALOG:
        path = root / "autograded" / hostile.name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        if path.exists():
            printed[hostile.name] = "".join(output.get("text", "") for cell in grading.read_notebook(path).cells
                                            for output in cell.get("outputs", []))
    # The trap is graded first by its worker (round-robin over sorted names): every later kernel of that worker was
    # forked from the sandbox it ran in, looks_for_traces among them.
    later = _graded_after(report, "a_trap_for_the_next")
    assert "looks_for_traces" in later and len(later) > 5, later
    reached = sorted(name for name, text in printed.items() if name != "a_trap_for_the_next" and TRAP_MARKER in text)
    assert not reached, f"the trap reached later kernels: {reached}"
    assert TRACES_MARKER in printed["looks_for_traces"], printed["looks_for_traces"][:2000]
    assert f"{TRACES_MARKER}-memory 0" in printed["looks_for_traces"], printed["looks_for_traces"][:2000]


def test_a_kernel_that_kills_its_zygote_ends_no_one_elses_grading(graded_round):
    # Its worker grades others after it, from a new zygote; their scores are checked with the catalog's.
    _, _, report, _, _ = graded_round
    assert _graded_after(report, "kills_its_zygote"), report[-3000:]


def _graded_after(report, student):
    """The students that the worker which graded ``student`` graded after it (from the round's progress lines)."""
    progress = re.findall(r"autograding (\S+) \(worker (\d+)\)", report)
    worker = dict(progress)[student]
    names = [name for name, by in progress if by == worker]
    return names[names.index(student) + 1:]


def test_student_output_is_inert_in_the_autograded_notebook_and_the_feedback(graded_round):
    from test_grading_protection import live_parts

    root, _, _, _, _ = graded_round
    notebook = grading.read_notebook(root / "autograded" / "displays_a_script" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert not any("application/javascript" in o.get("data", {}) for o in outputs)
    for output in outputs:
        for mime in ("text/html", "text/markdown"):
            assert not live_parts(output.get("data", {}).get(mime, "")), output
    page = (root / "feedback" / "displays_a_script" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "<b>look</b>" in page  # what is harmless stays
    assert SCRIPT_MARKER not in _scripts_of(page), _scripts_of(page)


def _scripts_of(page):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, "html.parser")
    handlers = [f"{e.name}[{name}]={value}" for e in soup.find_all(True) for name, value in e.attrs.items()
                if name.startswith("on")]
    return "\n".join([s.get_text() for s in soup.find_all("script")] + handlers)


WORKER_CANNOT_START = '''
from softcap_course.grading import sandbox as _sandbox
_real_command = _sandbox.command
_sandbox.command = lambda argv, **kw: _real_command(argv, **{**kw, "environment": {"PYTHONHOME": "/nowhere"}})
'''

IMPORT_CELL_FAILS_OUTSIDE = '''
from softcap_course.grading import sandbox as _sandbox
_real_command = _sandbox.command
_sandbox.command = lambda argv, **kw: _real_command(argv, **{**kw, "environment": {"SOFTCAP_TEST_BROKEN": "1"}})
'''


def _round(root, *arguments):
    env = dict(os.environ, PATH=f"{grading.BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([sys.executable, "-m", "softcap_course.grading.instructor", "--root", str(root), *arguments],
                          env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("where", ["before_the_check", "after_the_check"])
def test_a_grader_whose_sandbox_cannot_start_leaves_everyone_ungraded_with_the_cause(where, tmp_path):
    """A broken grading environment is the grader's fault: no zero, no accusation, every submission is left ungraded
    with Python's own error, and the round exits 1. Broken before nbgrader's sandbox check, autograde refuses to start;
    broken only for the verification worker, each submission is left ungraded by it."""
    root = grading.make_course(tmp_path, [ASSIGNMENT])
    grading.enrol(root, ["honest"])
    classroom_write(root, {"honest": grading.submission(ASSIGNMENT, grading.solution_sources(ASSIGNMENT))})
    config = (root / "nbgrader_config.py").read_text()
    marker = "# Every kernel that autograding starts runs in a bubblewrap sandbox"
    assert marker in config
    config = (config.replace(marker, WORKER_CANNOT_START + marker) if where == "before_the_check"
              else config + WORKER_CANNOT_START)
    (root / "nbgrader_config.py").write_text(config)
    result = _round(root, ASSIGNMENT)
    text = result.stdout + result.stderr
    assert result.returncode == 1, text[-3000:]
    expected = "grading could not start: nbgrader autograde refused" if where == "before_the_check" else \
        "grading itself failed, not the student's code: a grading process could not start"
    assert re.search(rf"! honest: NOT GRADED: {expected}.*(encodings|Fatal Python error)", text), text[-3000:]
    assert "tampering" not in text and "kernel died" not in text, text[-3000:]
    assert not (root / "autograded" / "honest" / ASSIGNMENT).exists()


def test_an_import_cell_that_fails_only_outside_the_notebook_leaves_the_submission_ungraded(tmp_path):
    """The notebook's own import cell fails in the verification's sandbox (here: a module that refuses to load
    there): the submission is left ungraded with the cause, the round exits 1, and once fixed the next round grades it."""
    root = grading.make_course(tmp_path, [ASSIGNMENT])
    imports = root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    notebook = grading.read_notebook(imports)
    cell = next(c for c in notebook.cells if grading.nbgrader_meta(c).get("grade_id") == "imports")
    cell.source = ("import os\nif os.environ.get('SOFTCAP_TEST_BROKEN'):\n    raise ImportError('a module the grader "
                   "cannot load')\n" + cell.source)
    nbformat.write(notebook, str(imports))
    grading.classroom.run_nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    grading.enrol(root, ["honest"])
    release = root / "notebooks" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    honest = grading.classroom.fill_release(release, grading.solution_sources(ASSIGNMENT))
    classroom_write(root, {"honest": honest})
    config = (root / "nbgrader_config.py").read_text()
    (root / "nbgrader_config.py").write_text(config + IMPORT_CELL_FAILS_OUTSIDE)
    result = _round(root, ASSIGNMENT)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"! honest: NOT GRADED: grading itself failed, not the student's code: .*a module the grader "
                     r"cannot load", result.stdout), result.stdout[-3000:]
    assert "tampering" not in result.stdout and "kernel died" not in result.stdout
    (root / "nbgrader_config.py").write_text(config)  # fixed
    again = _round(root, ASSIGNMENT)
    assert again.returncode == 0, again.stdout[-3000:]
    assert grading.read_scores(root, ASSIGNMENT)["honest"].total == FULL


def classroom_write(root, submissions):
    from softcap_course.grading import classroom

    classroom.write_submissions(root, ASSIGNMENT, submissions)


ESCAPES_THE_TRACKER = '''
from torch.utils._python_dispatch import _disable_current_modes

_inner = chunked_linear_softcap_cross_entropy

def chunked_linear_softcap_cross_entropy(hidden, weight, targets, cap, chunk_size=1024, ignore_index=-100):
    # Every logit at once, out of sight of the tensor tracker; and the peak resident memory reset, for good measure.
    with _disable_current_modes():
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")
        except OSError:
            pass
        return _inner(hidden, weight, targets, cap, chunk_size=1 << 30 if chunk_size >= 1 else chunk_size,
                      ignore_index=ignore_index)
'''


def test_hiding_materialised_logits_from_the_tracker_earns_nothing_in_chapter_6(tmp_path):
    """06: a loss that computes every logit at once inside a context that switches the tensor tracker off (and tries to
    reset the process's peak memory) passes the memory test in the notebook, and fails it when the grader measures."""
    assignment = "06-softcap-gpu"
    root = grading.make_course(tmp_path, [assignment])
    reference = grading.solution_sources(assignment)
    target = "chunked_linear_softcap_cross_entropy"
    hidden = grading.submission(assignment, {**reference, target: reference[target] + "\n" + ESCAPES_THE_TRACKER})
    scores = grading.autograde(root, assignment, {"escapes": hidden})["escapes"]
    assert scores.lost() == {"test_chunked_linear_softcap_cross_entropy_memory": (0.0, 2.0)}, scores.lost()
    log = (root / f"autograde-{assignment}.log").read_text()
    assert "suspected tampering: escapes" in log and "test_chunked_linear_softcap_cross_entropy_memory" in log


def test_a_student_whose_notebook_cannot_be_read_gets_a_feedback_page(graded_round):
    root, _, _, _, _ = graded_round
    page = (root / "feedback" / "invalid_json" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "is not a valid Jupyter notebook" in page and "it was cut short" in page, page
