"""A grading process killed at any moment: the round finishes, says what it lost, exits 1, and leaves no process.

``make grade`` runs nbgrader commands; each forks a kernel per submission from its sandboxed kernel zygote, runs a
sandboxed verification worker beside it, and for chapter 6 a memory-measuring process. Whatever kills
the nbgrader command (SIGKILL here, as the OOM killer would), everything it started must die with it, and the round
must not wait on a pipe that an orphan keeps open. Each case kills the command at another moment: before a kernel
starts, while a kernel runs a cell, during the verification, during the feedback.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

import grading
from softcap_course.grading import classroom

ASSIGNMENT = "01-softmax"
STUDENTS = ["ada", "slow", "zoe"]
# The naive_softmax cell takes 6 s in the kernel (its import-time sleep) and answers correctly.
SLOW_CELL = """
import time
time.sleep(6)
def naive_softmax(x, axis=-1):
    x = np.asarray(x)
    x = x if x.dtype.kind == "f" else x.astype(np.float64)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)
"""
# How long a killed round may take to finish (the unkilled round takes about 20 s here).
BOUND = 120


def _course(root):
    grading.make_course(root, [ASSIGNMENT])
    classroom.enrol(root, STUDENTS)
    reference = grading.solution_sources(ASSIGNMENT)
    submissions = {s: grading.submission(ASSIGNMENT, reference) for s in STUDENTS}
    submissions["slow"] = grading.submission(ASSIGNMENT, {**reference, "naive_softmax": SLOW_CELL})
    classroom.write_submissions(root, ASSIGNMENT, submissions)
    return root


def _descendants(pid):
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _command(process):
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def _nbgrader(round_pid, command):
    return [p for p in _descendants(round_pid) if re.search(rf"nbgrader {command}\b", _command(p))]


def _wait_for(condition, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    return None


def _kernel_of(round_pid):
    """The grading process whose kernel runs the slow student's notebook (it is in the middle of its 6 s cell): a
    process forked by the kernel zygote, working in the slow student's folder."""
    for process in _nbgrader(round_pid, "autograde"):
        for child in _descendants(process.pid):
            if "softcap_course.grading.kernel_zygote" in _command(child):
                try:
                    if "/slow/" in child.cwd():
                        return process
                except psutil.Error:
                    pass
    return None


def _verifying(round_pid):
    for process in _nbgrader(round_pid, "autograde"):
        if any("softcap_course.grading.worker" in _command(child) for child in _descendants(process.pid)):
            return process
    return None


MOMENTS = {
    # As soon as the command exists: before it has started any kernel.
    "before_a_kernel_starts": lambda pid: (_nbgrader(pid, "autograde") or [None])[0],
    "while_a_kernel_runs_a_cell": _kernel_of,
    "during_the_verification": _verifying,
    "during_the_feedback": lambda pid: (_nbgrader(pid, "generate_feedback") or [None])[0],
}


def _leftovers(root, started):
    """Processes of this round that are still alive: anything whose command line or folder is the course's, and every
    kernel, verification worker or sandbox started since the round began."""
    left = []
    for process in psutil.process_iter(["pid", "cmdline", "create_time"]):
        try:
            command = " ".join(process.info["cmdline"] or [])
            if process.info["create_time"] < started - 1 or process.pid == os.getpid():
                continue
            if (str(root) in command or "ipykernel_launcher" in command or "softcap_course.grading" in command
                    or command.startswith("bwrap")) and process.status() != psutil.STATUS_ZOMBIE:
                left.append((process.pid, command[:160]))
        except psutil.Error:
            continue
    return left


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_killed_grading_process_leaves_no_process_and_the_round_ends(moment, tmp_path):
    root = _course(tmp_path / "course")
    started = time.time()
    env = dict(classroom.tool_env(), NBGRADER_CELL_TIMEOUT="30")
    round_ = subprocess.Popen([sys.executable, "-m", "softcap_course.grading.instructor", "--root", str(root),
                               "--jobs", "1", ASSIGNMENT], cwd=root, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    output = []
    reader = threading.Thread(target=lambda: output.extend(round_.stdout), daemon=True)
    reader.start()
    try:
        victim = _wait_for(lambda: MOMENTS[moment](round_.pid))
        assert victim is not None, f"never saw the moment {moment}:\n{''.join(output)[-3000:]}"
        victim.send_signal(signal.SIGKILL)
        try:
            round_.wait(timeout=BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the round did not finish within {BOUND} s of the kill ({moment}):\n{''.join(output)[-3000:]}")
        reader.join(timeout=10)
        text = "".join(output)
        assert round_.returncode == 1, text[-3000:]
        assert "ROUND INCOMPLETE" in text, text[-3000:]
        if moment == "during_the_feedback":
            assert re.search(r"no feedback: generate_feedback .* was killed by SIGKILL", text), text[-3000:]
        else:
            lost = re.findall(r"! (\S+): NOT GRADED: the grading process .* was killed by SIGKILL", text)
            assert lost, text[-3000:]
            for student in lost:  # exactly those: nothing else is reported lost, and none of them is half-made
                assert not (root / "autograded" / student / ASSIGNMENT).exists()
        left = _wait_for(lambda: not _leftovers(root, started) or None, timeout=10)
        assert left, f"processes of the round are still alive after it ended: {_leftovers(root, started)}"
        assert not (Path(tempfile.gettempdir()) / f"softcap-grading-{victim.pid}").exists(), "its kernels' folder is left"
    finally:
        if round_.poll() is None:
            round_.kill()
        for process in _descendants(round_.pid):
            process.kill()
