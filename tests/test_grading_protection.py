"""The parts that protect the grades, one at a time: the verified result decides a test cell's score, student output
is made inert, the sandbox bounds what a process may write and see, the memory measurement's process cannot start
another one, and the sandbox check imports what grading imports, from the grader's own package.

The whole rounds (hostile submissions graded beside honest ones) are in test_hostile_submissions.py.
"""

import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbgrader.utils import determine_grade

import grading
from softcap_course.grading import sandbox
from softcap_course.grading.sanitise import sanitise_notebook
from softcap_course.grading.verification import GRADER_ONLY, Verdict, VerifyOutsideKernel

# ------------------------------------------------------------------------------ the verified result decides


def _graded_cell(outputs):
    cell = new_code_cell("check_ranks(...)", outputs=outputs)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "test_x", "points": 2, "locked": True, "solution": False,
                                 "schema_version": 3}
    return cell


def _verify(cell, verdict):
    """Run VerifyOutsideKernel on a notebook of one test cell, as if the verification had given ``verdict``."""
    thread = threading.Thread(target=lambda: None)
    thread.start()
    notebook = new_notebook(cells=[cell])
    resources = {"softcap_verification": (thread, {"results": {"test_x": verdict}, "seconds": 0.0},
                                          {"test_x": cell.source}),
                 "nbgrader": {"student": "someone", "notebook": "x"}}
    VerifyOutsideKernel().preprocess(notebook, resources)
    return notebook.cells[0]


VALUE = new_output("execute_result", data={"text/plain": "[RankResult(rank=0, ...)]"}, execution_count=3)
HALF = new_output("execute_result", data={"text/plain": "0.5"}, execution_count=3)


@pytest.mark.parametrize("value", [VALUE, HALF], ids=["a value", "a number"])
def test_a_cell_whose_value_came_first_scores_zero_when_its_verification_fails(value):
    cell = _verify(_graded_cell([nbformat.from_dict(value)]), Verdict("visible", "AssertionError: wrong"))
    assert determine_grade(cell) == (0, 2.0)
    assert cell.outputs[0]["output_type"] == "error" and "VerificationFailed" in cell.outputs[0]["ename"]


@pytest.mark.parametrize("value", [VALUE, HALF], ids=["a value", "a number"])
def test_a_value_never_scores_a_cell_that_passed(value):
    """nbgrader would give a cell ending with 0.5 half its points, and one ending with a list its points with a warning:
    the value is shown, and the verified result alone decides."""
    cell = _verify(_graded_cell([nbformat.from_dict(value)]), Verdict())
    assert determine_grade(cell) == (2.0, 2.0)
    assert [o["output_type"] for o in cell.outputs] == ["display_data"]


def test_a_hidden_failure_scores_zero_and_a_kernel_failure_stays_zero():
    cell = _verify(_graded_cell([new_output("stream", name="stdout", text="fine\n")]), Verdict("hidden", "wrong"))
    assert determine_grade(cell) == (0, 2.0) and cell.outputs[0]["ename"] == "HiddenTestFailed"
    failed = new_output("error", ename="AssertionError", evalue="expected 1", traceback=["AssertionError"])
    cell = _verify(_graded_cell([failed]), Verdict("visible", "expected 1"))
    assert determine_grade(cell) == (0, 2.0) and len(cell.outputs) == 1  # its own failure, not an accusation


GRADER_ONLY_SOURCE = ("from softcap_course.checks import expect_kernel_compiles\n"
                      f"{GRADER_ONLY} (compiling reads the kernel's source).\n"
                      "expect_kernel_compiles(kernel, name='kernel', signature=['*fp32'], constexprs={}, dtypes=['float32'], "
                      "dtype_argument=0)")


def test_the_kernel_runs_no_part_of_a_grader_only_cell_and_the_hidden_part_of_no_cell(monkeypatch):
    """Autograding gives the kernel a comment for a cell marked GRADER_ONLY, and the visible part of the others; the
    verification gets every cell whole."""
    from softcap_course.grading import verification

    given = {}
    monkeypatch.setattr(verification, "verify", lambda cells, **options: given.setdefault("cells", cells) and {})
    compiles = new_code_cell(GRADER_ONLY_SOURCE)
    compiles.metadata["nbgrader"] = {"grade": True, "grade_id": "test_compiles", "points": 1, "locked": True}
    values = new_code_cell("check(1)\n### BEGIN HIDDEN TESTS\ncheck(2)\n### END HIDDEN TESTS\n")
    values.metadata["nbgrader"] = {"grade": True, "grade_id": "test_values", "points": 1, "locked": True}
    notebook = new_notebook(cells=[compiles, values])
    _, resources = verification.StartVerification().preprocess(notebook, {})
    resources["softcap_verification"][0].join()
    assert "expect_kernel_compiles" not in compiles.source and compiles.source.lstrip().startswith("#")
    assert compile(compiles.source, "<kernel>", "exec").co_code == compile("", "<empty>", "exec").co_code
    assert values.source.strip() == "check(1)"
    assert [c.source for c in given["cells"]] == [GRADER_ONLY_SOURCE, "check(1)\n### BEGIN HIDDEN TESTS\ncheck(2)\n"
                                                                     "### END HIDDEN TESTS\n"]


def test_a_grader_only_cell_shows_the_checks_own_failure_and_accuses_nobody(caplog):
    refused = ("softcap_cross_entropy_kernel: refused by the GPU compiler for sm_90 (H100)\n"
               "  hint: Triton's GPU compiler has no break")
    cell = _graded_cell([])
    cell.source = GRADER_ONLY_SOURCE
    with caplog.at_level("INFO"):
        failed = _verify(cell, Verdict("visible", f"AssertionError: {refused}", "AssertionError"))
    assert determine_grade(failed) == (0, 2.0)
    assert (failed.outputs[0]["ename"], failed.outputs[0]["evalue"]) == ("AssertionError", refused)
    assert "tampering" not in caplog.text
    cell = _graded_cell([])
    cell.source = GRADER_ONLY_SOURCE
    assert determine_grade(_verify(cell, Verdict())) == (2.0, 2.0)
    cell = _graded_cell([])
    cell.source = GRADER_ONLY_SOURCE
    lost = _verify(cell, Verdict("visible", "your answer code did not run outside the notebook: it raised"))
    assert determine_grade(lost) == (0, 2.0) and lost.outputs[0]["ename"] == "VerificationFailed"


def test_a_crashed_verification_leaves_the_submission_ungraded():
    from softcap_course.grading.worker import GradingInfrastructureError

    thread = threading.Thread(target=lambda: None)
    thread.start()
    cell = _graded_cell([])
    notebook = new_notebook(cells=[cell])
    resources = {"softcap_verification": (thread, {"crash": "Traceback ...\nRuntimeError: a bug", "cause": "a bug",
                                                              "seconds": 0.0},
                                          {"test_x": cell.source}),
                 "nbgrader": {"student": "someone", "notebook": "x"}}
    with pytest.raises(GradingInfrastructureError, match="not the student's fault"):
        VerifyOutsideKernel().preprocess(notebook, resources)


# ------------------------------------------------------------------------------ student output is inert

HOSTILE_HTML = ('<b>bold stays</b><script>document.title="pwned"</script><img src="x" onerror="alert(1)">'
                '<a href="javascript:alert(2)">link</a><iframe src="http://example.org"></iframe>')


def live_parts(html):
    """What in ``html`` a browser would run or fetch: scripts, frames, SVG, event handlers, javascript: links."""
    from bs4 import BeautifulSoup

    found = []
    for element in BeautifulSoup(html, "html.parser").find_all(True):
        if element.name in ("script", "iframe", "object", "embed", "svg", "frame", "link", "meta", "img", "style"):
            found.append(element.name)
        for name, value in element.attrs.items():
            if name.lower().startswith("on") or "javascript:" in str(value).lower() or name.lower() in ("src", "srcset"):
                found.append(f"{element.name}[{name}]")
    return found


def test_the_sanitiser_leaves_no_script_handler_frame_or_fetch():
    output = new_output("display_data", data={
        "text/html": HOSTILE_HTML, "application/javascript": "document.title='pwned'",
        "image/svg+xml": "<svg><script>alert(1)</script></svg>", "text/plain": "<IPython.core.display.HTML object>",
        "text/latex": "$x$<img src=x onerror=alert(3)>"},
        metadata={"image/png": {"width": 10, "onload": "x"}, "filenames": {"image/png": "http://example.org/x.png"}})
    answer = new_markdown_cell("My answer <script>alert(4)</script> <img src=y onerror=alert(5)>")
    answer.metadata["nbgrader"] = {"solution": True, "grade": True, "grade_id": "answer", "points": 1, "locked": False}
    instructions = new_markdown_cell("<b>the instructor's own markup</b>")
    instructions.metadata["nbgrader"] = {"locked": True, "grade_id": "intro", "solution": False, "grade": False}
    notebook = new_notebook(cells=[instructions, answer, new_code_cell("x", outputs=[output])],
                            metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}})
    sanitise_notebook(notebook)
    data = notebook.cells[2].outputs[0]["data"]
    assert set(data) == {"text/html", "text/latex", "text/plain"}
    assert "<b>bold stays</b>" in data["text/html"]
    for html in (data["text/html"], data["text/latex"], notebook.cells[1].source):
        assert not live_parts(html), (html, live_parts(html))
    assert "application/javascript, image/svg+xml was removed by the grader" in data["text/plain"]
    assert notebook.cells[2].outputs[0]["metadata"] == {"image/png": {"width": 10}}
    assert "widgets" not in notebook.metadata
    assert notebook.cells[0].source == "<b>the instructor's own markup</b>"
    assert "&lt;script&gt;alert(4)" in notebook.cells[1].source  # the instructor still reads what was written


# ------------------------------------------------------------------------------ the sandbox

PROBE = textwrap.dedent("""
    import ctypes, json, os, socket, sys
    seen = [p for p in sys.argv[2:] if os.path.exists(p)]
    try:
        socket.create_connection(("127.0.0.1", 22), timeout=2)
        network = "open"
    except OSError as error:
        network = type(error).__name__
    def write(path, size=2**20):
        try:
            with open(path, "wb") as f:
                for _ in range(size // 2**20):
                    f.write(b"x" * 2**20)
            return "written"
        except OSError as error:
            return error.strerror
    libc = ctypes.CDLL(None, use_errno=True)
    print(json.dumps({
        "seen": seen, "network": network, "pid": os.getpid(),
        "capabilities": open("/proc/self/status").read().split("CapEff:")[1].split()[0],
        "own_folder": write(sys.argv[1] + "/written"),
        "outside": write(sys.argv[1] + "-escaped"),
        "root": write("/anything"), "dev": write("/dev/anything"),
        "clear_refs": write("/proc/self/clear_refs", 0) if os.path.exists("/proc/self/clear_refs") else "absent",
        "big_tmp": write("/tmp/big", 300 * 2**20), "big_shm": write("/dev/shm/big", 300 * 2**20),
        "user_namespace": libc.unshare(0x10000000) == 0,
    }))
""")


def test_the_sandbox_hides_the_course_and_bounds_what_it_may_write(tmp_path):
    """What a sandboxed process sees and may do: its own folder (as a size-limited copy), a read-only Python, nothing
    of the course, no home, no network, no capability, no new user namespace, a read-only /proc, bounded /tmp."""
    own = tmp_path / "own"
    own.mkdir()
    (own / "given.txt").write_text("the submission's file")
    hidden = [str(grading.REPO / d) for d in ("solutions", "notebooks", "tests", "gradebook.db")]
    hidden += [os.path.expanduser("~/.bashrc"), str(grading.REPO.parent / "shared"), str(tmp_path / "elsewhere")]
    (tmp_path / "elsewhere").mkdir()
    result = subprocess.run(sandbox.command([sys.executable, "-c", PROBE, own, *hidden], scratch=own, cwd=own),
                            capture_output=True, text=True, timeout=60, preexec_fn=sandbox.limit_files)
    assert result.returncode == 0, result.stderr
    import json

    seen = json.loads(result.stdout)
    assert seen["seen"] == [], f"the sandbox shows {seen['seen']}"
    assert seen["network"] != "open", "the sandbox reached the network"
    assert seen["pid"] < 10, f"the sandbox has its own process namespace (pid {seen['pid']})"
    assert int(seen["capabilities"], 16) == 0, "no capability inside"
    assert not seen["user_namespace"], "no new user namespace inside"
    assert seen["own_folder"] == "written" and not (own / "written").exists(), "its writes never reach the disk"
    assert not (tmp_path / "own-escaped").exists(), "a write beside its folder reached the disk"
    assert seen["root"] == seen["dev"] == "Read-only file system"
    assert seen["clear_refs"] == "Read-only file system", "no process may reset its peak memory"
    bounded = ("No space left on device", "File too large")
    assert seen["big_tmp"] in bounded and seen["big_shm"] in bounded, (seen["big_tmp"], seen["big_shm"])


def test_the_sandbox_limits_the_size_of_a_file():
    script = f"with open('/tmp/f', 'wb') as f: f.write(b'x' * ({sandbox.FILE_BYTES} + 1))"
    result = subprocess.run(sandbox.command([sys.executable, "-c", script], cwd="/tmp", scratch_bytes=2 * sandbox.FILE_BYTES),
                            capture_output=True, text=True, timeout=60, preexec_fn=sandbox.limit_files)
    assert result.returncode != 0 and "File too large" in result.stderr, result.stderr[-500:]


def test_the_check_imports_what_grading_imports_from_the_graders_own_package(tmp_path):
    """A shared environment whose helper package points at another checkout: the sandbox imports the package the
    grader imports (it is put first on the sandbox's path), so the check passes and says nothing false."""
    other = tmp_path / "another-checkout"
    shutil.copytree(grading.REPO / "softcap_course", other / "softcap_course",
                    ignore=shutil.ignore_patterns("__pycache__"))
    script = ("from softcap_course.grading import sandbox; import softcap_course; "
              "print(softcap_course.__file__); print(sandbox.problem())")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180,
                            env=dict(os.environ, PYTHONPATH=str(other)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    package, problem = result.stdout.strip().splitlines()[-2:]
    assert package.startswith(str(other)) and problem == "None", result.stdout


def _problem_found_now():
    """``sandbox.problem()`` checked afresh (it is cached), and not kept for the tests after this one."""
    sandbox.problem.cache_clear()
    try:
        return sandbox.problem()
    finally:
        sandbox.problem.cache_clear()


def test_the_check_reports_a_sandbox_that_cannot_run_python(monkeypatch):
    real = sandbox.command
    monkeypatch.setattr(sandbox, "command", lambda argv, **kw: real(argv, **{**kw, "environment": {"PYTHONHOME": "/nowhere"}}))
    reason = _problem_found_now()
    assert reason and "cannot run what grading runs" in reason and "encodings" in reason, reason


def test_the_check_reports_an_environment_without_the_kernels_provisioner(monkeypatch):
    """Without the entry point that the kernel spec names, jupyter_client could not start a grading kernel: autograde
    refuses at its start (and says how to fix it) instead of scoring every kernel that never started 0."""
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: [])
    reason = _problem_found_now()
    assert reason and "provisioner (softcap-zygote) is not installed" in reason and "make" in reason, reason


# ------------------------------------------------------------------------------ the memory measurement's lock

FORKS = """
import os, sys, threading
from softcap_course.grading.measure import threads_only
threads_only()
results = []
thread = threading.Thread(target=lambda: results.append("thread ran"))
thread.start(); thread.join()
for name, attempt in [("fork", os.fork), ("memfd", lambda: os.memfd_create("x"))]:
    try:
        pid = attempt()
        if pid == 0:
            os._exit(0)
        results.append(f"{name} worked")
    except OSError as error:
        results.append(f"{name}: {error.strerror}")
import subprocess
try:
    subprocess.run(["true"])
    results.append("subprocess worked")
except OSError as error:
    results.append(f"subprocess: {error.strerror}")
print(results)
"""


def test_the_measured_process_can_make_threads_but_no_process():
    result = subprocess.run([sys.executable, "-c", FORKS], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("['thread ran', 'fork: Operation not permitted', 'memfd: Operation not permitted', "
                                     "'subprocess: Operation not permitted']"), result.stdout


def test_an_unsandboxed_memory_measurement_kills_and_removes_only_what_it_started():
    """With NBGRADER_ALLOW_UNSANDBOXED=1 the memory zygote shares the machine's processes, /tmp and /dev/shm: after a
    measurement it must kill only its own children (never every process it may signal) and empty no shared folder."""
    import tempfile

    import torch

    from softcap_course.grading import measure
    from softcap_course.grading.verification import _Views

    bystander = subprocess.Popen(["sleep", "120"], start_new_session=True)
    kept = Path(tempfile.gettempdir()) / f"softcap-bystander-{os.getpid()}"
    kept.write_text("an instructor's file")
    probe = measure.MemoryProbe(["import torch"], timeout=30.0, sandboxed=False)
    try:
        x = torch.randn(64, 32, requires_grad=True)
        student = ["def doubled_sum(x):\n    return (x * 2).sum()"]
        reply = probe.measure({"measure": "doubled_sum", "student": student, **_Views().request((x,), {}),
                               "skip_kernels": False})
        assert reply.get("shape") == [] and reply.get("peak", 0) > 0, reply
        assert bystander.poll() is None, "the zygote killed a process it did not start"
        assert kept.read_text() == "an instructor's file", "the zygote emptied the machine's /tmp"
    finally:
        probe.close()
        bystander.kill()
        bystander.wait()
        kept.unlink(missing_ok=True)


# ------------------------------------------------------------------------------ tensors to the memory zygote, raw

FRAMED_STUDENT = """
import torch

def framed(logits, targets, scale):
    torch.manual_seed(7)
    whole = torch.randn(40, 33).to(torch.bfloat16)
    # the argument is a strided view into the middle of the storage that crossed the pipe
    assert logits.dtype == torch.bfloat16 and logits.shape == (13, 16) and logits.stride() == (33, 2)
    assert torch.equal(logits, whole[20:33, 1:33:2]), "the bfloat16 bytes changed on the way"
    assert targets.dtype == torch.int64 and torch.equal(targets, torch.arange(-3, 10)), "the targets changed"
    assert scale.dtype == torch.float64 and scale.tolist() == [0.1, 1e-300, -2.5]
    return (logits.float() * 2).sum()
"""


def test_the_memory_zygote_gets_tensor_arguments_as_raw_frames_byte_for_byte():
    """The grader sends the zygote each tensor's storage raw after the request's line (no base64 in JSON): views keep
    their strides and offsets, bfloat16 and integers their exact bytes, and a second request reads its own frames."""
    import torch

    from softcap_course.grading import measure
    from softcap_course.grading.verification import _Views

    torch.manual_seed(7)
    whole = torch.randn(40, 33).to(torch.bfloat16)
    logits = whole[20:33, 1:33:2].requires_grad_()
    targets, scale = torch.arange(-3, 10), torch.tensor([0.1, 1e-300, -2.5], dtype=torch.float64)
    probe = measure.MemoryProbe(["import torch"], timeout=30.0, sandboxed=False)
    try:
        for _ in range(2):
            views = _Views(frames=[])
            request = {"measure": "framed", "student": [FRAMED_STUDENT],
                       **views.request((logits, targets), {"scale": scale}), "skip_kernels": False}
            assert len(views.frames) == 3 and "frames" not in request
            assert all(s["__tensor__"] is None for s in request["storages"]), "a storage went as base64"
            reply = probe.measure(request, frames=views.frames)
            assert "raised" not in reply, reply
            assert reply["shape"] == [] and reply["dtype"] == "float32" and reply["peak"] > 0, reply
    finally:
        probe.close()


def test_a_reply_cannot_name_a_frame():
    """Only the grader's requests carry frames: a tensor that points to one in anything else is refused."""
    import torch

    from softcap_course.grading.worker import WorkerFailed, decode, encode

    frames = []
    tagged = encode(torch.arange(6, dtype=torch.int32).reshape(2, 3), frames)
    assert torch.equal(decode(tagged, [bytearray(frames[0].tobytes())]), torch.arange(6, dtype=torch.int32).reshape(2, 3))
    for bad in (tagged, {**tagged, "frame": 1}, {**tagged, "frame": "0"}):
        with pytest.raises(WorkerFailed, match="frame"):
            decode(bad, [] if bad is tagged else [bytearray(24)])


def test_a_process_that_stops_reading_a_frame_fails_within_the_time_limit():
    """Writing a frame to a process that reads nothing gives up at the time limit instead of blocking forever."""
    import time

    import numpy as np

    from softcap_course.grading.verification import Worker
    from softcap_course.grading.worker import WorkerFailed

    worker = Worker.__new__(Worker)
    worker.timeout = 2.0
    worker.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
    started = time.monotonic()
    try:
        with pytest.raises(WorkerFailed, match="read no request"):
            worker.ask({"measure": "x"}, timeout=2.0, frames=[np.zeros(2**24, dtype=np.uint8)])  # 16 MB > a pipe
        assert time.monotonic() - started < 10
        assert worker.process.poll() is not None, "the process that stopped reading was left running"
    finally:
        worker.close()


# ------------------------------------------------------------------------------ the warm worker

WARM_IMPORTS = ["import os  # the warm-worker tests' own zygote"]


def _child(*lines):
    """A submission's worker forked by the warm zygote of ``WARM_IMPORTS``, holding ``lines`` as its answer code."""
    from softcap_course.grading.verification import SubmissionWorker

    return SubmissionWorker([*WARM_IMPORTS, "\n".join(lines)], timeout=20.0, sandboxed=True, trusted=1)


def _value(worker, name):
    from softcap_course.grading.worker import decode

    return decode(worker.ask({"get": name})["value"])


def test_nothing_a_submission_leaves_in_the_warm_worker_reaches_the_next_one():
    """A process left running, files in /tmp (a module the next one might import) and /dev/shm, a System V shared
    memory segment: all gone before the next submission's worker is forked from the same zygote."""
    left = _child("import ctypes, subprocess",
                  # what is there from the start (a folder of the grader's Python, when it lies under /tmp)
                  "tmp, shm = sorted(os.listdir('/tmp')), sorted(os.listdir('/dev/shm'))",
                  "sleeper = subprocess.Popen(['sleep', '300']).pid",
                  "module = open('/tmp/scipy.py', 'w').write('import os; os._exit(3)')",
                  "shared = open('/dev/shm/left', 'w').write('x' * 1000)",
                  "segment = ctypes.CDLL(None).shmget(0, 2**20, 0o1600)")  # IPC_PRIVATE, IPC_CREAT | 0600
    zygote = left.zygote
    assert _value(left, "sleeper") > 0 and _value(left, "module") > 0 and _value(left, "segment") >= 0
    at_start = (_value(left, "tmp"), _value(left, "shm"))
    assert "scipy.py" not in at_start[0]
    left.close()
    probe = _child("tmp, shm = sorted(os.listdir('/tmp')), sorted(os.listdir('/dev/shm'))",
                   "processes = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())",
                   "me = [os.getpid(), os.getppid()]",
                   "segments = open('/proc/sysvipc/shm').read().splitlines()[1:]")
    try:
        assert probe.zygote is zygote, "the next submission was not forked from the same warm worker"
        assert (_value(probe, "tmp"), _value(probe, "shm")) == at_start, "a file outlived the submission that wrote it"
        assert _value(probe, "segments") == [], "a shared memory segment outlived the submission that made it"
        assert set(_value(probe, "processes")) == {1, *_value(probe, "me")}, "a process outlived its submission"
    finally:
        probe.close()


def test_a_submission_cannot_speak_for_the_warm_worker_or_take_it_down_for_the_next_one():
    """A worker that writes the zygote's own words into every file it holds breaks only its own answers: the zygote
    goes on, and the next submission's worker answers from it. One that kills the zygote fails itself; the next
    submission gets a fresh zygote."""
    import time

    from softcap_course.grading.worker import WorkerFailed

    forging = ("def forge():",
               "    for fd in range(3, 64):",
               "        try:",
               "            os.write(fd, b'\\nZ{\"ended\": true}\\nZ{\"ready\": true, \"names\": {}}\\n')",
               "        except OSError:",
               "            pass",
               "    return True",
               "forged = forge()")
    with pytest.raises(WorkerFailed):
        _child(*forging)
    honest = _child("def double(x):", "    return 2 * x")
    zygote = honest.zygote
    try:
        assert honest.names.get("double") == "callable"
        assert honest.ask({"call": "double", "args": [{"__plain__": 21}], "kwargs": {}})["value"] == 42
    finally:
        honest.close()
    assert zygote.process.poll() is None and not zygote.busy
    # Half a line, written after its last answer and never ended: the zygote's own word that the submission is over
    # still arrives on a line of its own, and the zygote serves the next one.
    half = _child(*forging[:3], "            os.write(fd, b'half a line')", *forging[4:6],
                  "import threading, time",
                  "def later():", "    time.sleep(0.3)", "    forge()",
                  "def start_later():", "    threading.Thread(target=later).start()", "    return 1")
    assert half.ask({"call": "start_later", "args": [], "kwargs": {}})["value"] == 1
    time.sleep(1.0)
    half.close()
    after_half = _child("def double(x):", "    return 2 * x")
    try:
        assert after_half.zygote is zygote, "a line left half-written cost the zygote"
        assert after_half.ask({"call": "double", "args": [{"__plain__": 5}], "kwargs": {}})["value"] == 10
    finally:
        after_half.close()
    with pytest.raises(WorkerFailed):
        _child("import signal", "killed = os.kill(os.getppid(), signal.SIGKILL)")
    assert zygote.process.wait(timeout=30) is not None
    after = _child("def double(x):", "    return 2 * x")
    try:
        assert after.zygote is not zygote and after.ask({"call": "double", "args": [{"__plain__": 4}], "kwargs": {}})["value"] == 8
    finally:
        after.close()


def test_a_reply_is_read_line_by_line_within_the_time_limit():
    """Two lines that come in one write are both read at once (the second is not left waiting for more output), and a
    half-written line that is never ended fails at the time limit instead of waiting forever."""
    import time

    from softcap_course.grading.verification import Worker
    from softcap_course.grading.worker import WorkerFailed

    script = ("import os, time; os.write(1, b'{\"a\": 1}\\n{\"b\": 2}\\n{\"half'); time.sleep(60)")
    worker = Worker.__new__(Worker)
    worker.timeout, worker.pending = 2.0, bytearray()
    worker.process = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True)
    try:
        started = time.monotonic()
        assert worker.read(5.0) == {"a": 1} and worker.read(5.0) == {"b": 2}
        assert time.monotonic() - started < 4, "the second line waited for more output"
        with pytest.raises(WorkerFailed, match="no answer"):
            worker.read(2.0)
        assert time.monotonic() - started < 10
        assert worker.process.poll() is not None, "the process that never ended its line was left running"
    finally:
        worker.close()
