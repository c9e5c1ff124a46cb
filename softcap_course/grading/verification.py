"""Scores decided outside the student's process: every test cell is run again by the grader, against a sandboxed copy
of the student's functions.

nbgrader runs a submission's test cells in the same Python process as the student's code, so that code can reach
whatever judges it (replace the checks in ``sys.modules``, rewrite the test cell's helpers, hook IPython). The
in-kernel result still gives students and nbgrader their feedback; the score that counts is decided here:

1. The student's *answer code* is extracted from the notebook: the restored locked cells (the imports) as they are,
   and from every cell the student could edit only ``import`` statements, ``def`` and ``class`` definitions and
   assignments to plain names. Nothing else a submission does at top level (patching a module, hooking IPython,
   starting a process) runs.
2. A *worker* process runs that code in the grading sandbox (``softcap_course.grading.sandbox``: no files but a read-only
   Python, no network), and answers calls over a pipe: arguments in, results out, as tagged JSON (arrays as raw
   bytes; no pickle, so a hostile worker can send nothing but data). It is forked from a warm worker (``_Zygote``)
   that ran the notebook's import cells once for every submission this process grades, and left nothing of the
   previous submission behind.
3. The grader executes each test cell of the notebook *in its own process* (the test cells are nbgrader's restored
   copies, hidden tests included), with every graded name bound to a proxy that calls the worker. The checks, the
   references (SciPy, PyTorch, hand values) and the comparisons never share a process with student code.
4. A test cell that passed in the notebook but fails here gets the failure appended to its outputs, so nbgrader
   scores it 0, the feedback says why, and the log reports suspected tampering. A cell that failed in the notebook
   keeps its 0: the verified score is never higher than the in-kernel one.
5. A test cell that only reads the submitted source (chapter 7 compiles the kernel for a GPU) is marked
   ``GRADER_ONLY`` and runs here alone, from the start of the verification, beside the other cells: the kernel would
   give the same answer, which would not count, for the same CPU time. Its failure is shown as the check raised it.

Chapter 6's tests differentiate the loss: when a call's tensor arguments require gradients, the worker runs the
student's forward and backward (``grad_loss = 1``) and the proxy returns a loss whose backward hands out those
gradients times the incoming one, through a custom ``autograd.Function`` node only if the student's loss came from
one. ``peak_tensor_bytes`` is measured in the worker, around the student's own forward and backward.

Chapter 4's tests draw thousands of samples, one call at a time with one NumPy generator: a loop of identical calls
is answered from calls the worker makes ahead, each on the state the previous one left (``_Speculation``), so that
a draw costs a function call instead of a round trip through the pipe.

Tensors cross as views of their whole storage (shape, strides and offset kept, so that a transposed or sliced tensor
arrives as one), and every storage the student's code wrote into comes back into the grader's tensor. Chapter 7's
tests launch the student's Triton kernel themselves: the grader's ``kernel[grid](...)`` launches it in the worker on
those views, and what the kernel wrote lands in the test's buffers.
"""

import concurrent.futures
import contextlib
import json
import os
import select
import subprocess
import sys
import time
import traceback

import numpy as np
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float

from softcap_course.grading import sandbox
from softcap_course.grading.classroom import nbgrader_meta
from softcap_course.grading.worker import END, GradingInfrastructureError, Unverifiable, WorkerFailed, decode, encode
from softcap_course.raised import raised_class

# Environment variables a graded function may read (05: logit_softcap_from_env); the proxy sends their current values.
FUNCTION_ENVIRONMENT = ("LOGIT_SOFTCAP",)


# ------------------------------------------------------------------------------------------------ the student's code


def answer_code(cells):
    """The code a worker runs, cell by cell: restored locked cells as they are; from the others, only imports,
    definitions and assignments to plain names (a cell with a syntax error contributes nothing).

    Returns (parts, trusted): ``parts[:trusted]`` are the instructor's locked cells that come before any cell a student
    could edit (the imports): if one of them fails in the sandbox, grading itself is broken, not the submission."""
    import ast

    parts, trusted, leading = [], 0, True
    for cell in cells:
        if cell.get("cell_type") != "code" or nbgrader_meta(cell).get("grade"):
            continue
        source = cell.get("source", "")
        if nbgrader_meta(cell).get("locked") and not nbgrader_meta(cell).get("solution"):
            parts.append(source)
            trusted += leading
            continue
        leading = False
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        kept = [node for node in tree.body
                if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                or (isinstance(node, (ast.Assign, ast.AnnAssign))
                    and all(isinstance(t, ast.Name) for t in (node.targets if isinstance(node, ast.Assign)
                                                              else [node.target])))]
        parts.append(ast.unparse(ast.Module(body=kept, type_ignores=[])))
    return parts, trusted


# ------------------------------------------------------------------------------------------------ the grader's side


class Worker:
    """A process that speaks the grading protocol: a hello once its imports worked, then a JSON line per request and
    per reply (the warm worker, ``_Zygote``; the memory zygote, ``measure.MemoryProbe``)."""

    def start(self, command, sandboxed, first_request, timeout, pass_fds=()):
        """Start the process (``pass_fds``: more file descriptors it inherits), wait for its hello (sent once its own
        imports worked: until then, a failure is the grader's, with the process's own error), send the first request
        and return its answer."""
        env = None if sandboxed else {k: v for k, v in os.environ.items() if k != "NBGRADER_DB_URL"}
        self.pending = bytearray()  # bytes of its output after the last line read (read_line)
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=env, pass_fds=pass_fds,
                                        preexec_fn=sandbox.limit_files if sandboxed else None)
        try:
            hello = self.read(60.0)
        except WorkerFailed as error:
            self.close()
            raise GradingInfrastructureError(f"a grading process could not start ({error}); its error output: "
                                             f"{sandbox.condensed(self.process.stderr.read())}") from None
        finally:
            if self.process.poll() is None:
                self.process.stderr.close()
        if sandboxed and hello.get("package") != str(sandbox.PACKAGE):
            self.close()
            raise GradingInfrastructureError(f"a grading process imported the helper package from "
                                             f"{hello.get('package')}, the grader from {sandbox.PACKAGE}")
        ready = self.ask(first_request, timeout=timeout)
        if ready.get("trusted_errors"):
            self.close()
            raise GradingInfrastructureError("the notebook's own import cell failed in the grading sandbox: "
                                             + "; ".join(ready["trusted_errors"]))
        return ready

    def ask(self, request, timeout=None, frames=()):
        """Send ``request`` (and, after its line, the raw ``frames`` it names, each announced by its length) and
        return the reply."""
        if self.process.poll() is not None:
            raise WorkerFailed("the worker is not running")
        timeout = timeout or self.timeout
        try:
            header = {**request, "frames": [int(frame.nbytes) for frame in frames]} if frames else request
            self.process.stdin.write(json.dumps(header) + "\n")
            self.process.stdin.flush()
            deadline = time.monotonic() + timeout
            for frame in frames:
                self._write_raw(memoryview(frame).cast("B"), deadline)
        except (BrokenPipeError, OSError):
            raise WorkerFailed("the worker stopped reading") from None
        return self.read(timeout)

    def _write_raw(self, data, deadline):
        """Write bytes to the process's stdin, giving up at the deadline (a process that stops reading would block
        a plain write forever)."""
        fd, written = self.process.stdin.fileno(), 0
        os.set_blocking(fd, False)  # a blocking write of more than the pipe holds would wait past any deadline
        try:
            while written < len(data):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([], [fd], [], left)[1]:
                    self.close()
                    raise WorkerFailed(f"the worker read no request within {self.timeout:.0f} s")
                try:
                    written += os.write(fd, data[written:written + 2**20])
                except BlockingIOError:
                    pass
        finally:
            if self.process.stdin and not self.process.stdin.closed:
                os.set_blocking(fd, True)

    def read(self, timeout):
        try:
            return json.loads(self.read_line(timeout))
        except ValueError:
            raise WorkerFailed("the worker answered something that is not JSON") from None

    def read_line(self, timeout):
        """The next whole line, within ``timeout``. Read straight from the pipe, whatever a line's size or how the
        lines came in: a buffered ``readline`` would wait past any deadline for the end of a line that never comes,
        and ``select`` does not see lines already in its buffer."""
        deadline = time.monotonic() + timeout
        pending = self.pending  # what came after the last line returned
        fd, searched = self.process.stdout.fileno(), 0
        while b"\n" not in pending[searched:]:
            searched = len(pending)
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.close()
                raise WorkerFailed(f"no answer within {timeout:.0f} s")
            chunk = os.read(fd, 2**20)
            if not chunk:
                raise WorkerFailed("the worker died")
            pending += chunk
        end = pending.index(b"\n", searched) + 1
        line = bytes(pending[:end])
        del pending[:end]
        return line.decode("utf-8", errors="replace")

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class _Zygote(Worker):
    """The warm worker of one notebook's import cells (``softcap_course.grading.worker._zygote``): it imported what
    they import once, and forks a fresh worker for each submission. Its lines are tagged: ``Z`` its own, ``R`` the
    current child's."""

    def __init__(self, trusted, timeout=60.0, sandboxed=True):
        argv = [sys.executable, "-m", "softcap_course.grading.worker"]
        command = sandbox.command(argv, cwd="/tmp") if sandboxed else argv
        self.timeout, self.busy = timeout, False
        # Starting takes the imports, plus at most the time limit for each cell that runs into it.
        self.start(command, sandboxed, {"trusted": trusted, "timeout": timeout, "sandboxed": sandboxed},
                   60.0 + timeout * (len(trusted) + 1))

    def _next(self, deadline, child=True):
        """(tag, message) of the next line; ``child=False``: a line of the child's is skipped unread (None)."""
        line = self.read_line(max(0.0, deadline - time.monotonic()))
        if line.startswith("R") and not child:
            return "R", None
        try:
            tag, message = line[:1], json.loads(line[1:])
        except ValueError:
            raise WorkerFailed("the worker answered something that is not JSON") from None
        if tag not in ("R", "Z") or not isinstance(message, dict):
            raise WorkerFailed("the worker answered a line that is neither its own nor its child's")
        return tag, message

    def read(self, timeout):
        """The child's next reply (or the zygote's word, before any child): a child that died is a dead worker."""
        tag, message = self._next(time.monotonic() + timeout)
        if tag == "Z" and message.get("died"):
            raise WorkerFailed("the worker died")
        return message

    def end(self):
        """End the current child (whatever it still writes is skipped); True when the zygote is ready for the next."""
        deadline = time.monotonic() + 30.0
        try:
            self.process.stdin.write(END.decode())
            self.process.stdin.flush()
            while True:
                tag, message = self._next(deadline, child=False)
                if tag == "Z" and message.get("ended"):
                    return True
        except (WorkerFailed, OSError, ValueError):
            self.close()
            return False


_zygotes = {}


def _zygote_for(trusted, timeout, sandboxed):
    """A free zygote for these import cells, started on first use and kept for this process's later submissions."""
    from softcap_course.grading import measure

    key = (json.dumps(trusted), timeout, sandboxed)
    kept = _zygotes.get(key)
    alive = kept is not None and kept.process.poll() is None
    if alive and not kept.busy:
        return kept
    zygote = measure.started_in_a_lasting_thread(lambda: _Zygote(trusted, timeout=timeout, sandboxed=sandboxed))
    if not alive:  # a busy one stays kept; this one serves only the caller
        _zygotes[key] = zygote
    return zygote


class SubmissionWorker:
    """One submission's worker: a child of the warm zygote, with the submission's answer code run in it. Asks and
    answers like ``Worker``."""

    def __init__(self, source, timeout=60.0, sandboxed=True, trusted=0):
        self.timeout = timeout
        self.zygote = _zygote_for(list(source[:trusted]), timeout, sandboxed)
        self.zygote.busy = True
        try:
            ready = self.zygote.ask({"fork": True, "source": list(source[trusted:])}, timeout=60.0 + timeout * len(source))
        except WorkerFailed:
            self.close()
            raise
        if not ready.get("ready"):
            self.close()
            raise WorkerFailed(f"the answer code did not run: {ready.get('error')}")
        self.names = {str(k): v for k, v in dict(ready.get("names", {})).items()}

    def ask(self, request, timeout=None, frames=()):
        if frames:
            raise WorkerFailed("a submission's worker is sent no raw frames")
        if self.zygote is None:
            raise WorkerFailed("the worker is not running")
        return self.zygote.ask(request, timeout=timeout or self.timeout)

    def close(self):
        zygote, self.zygote = self.zygote, None
        if zygote is not None:
            if zygote.process.poll() is None:
                zygote.end()
            zygote.busy = False


def _raise_like(reply):
    name = reply["raised"]  # the worker sends the nearest built-in class: NotImplementedError stays itself
    message = reply["message"] if reply.get("original") == name else f"{reply.get('original')}: {reply['message']}"
    raise raised_class(reply)(message)


class _Measure:
    """While on (inside ``peak_tensor_bytes``), a proxied call with gradients is not evaluated but measured: its
    forward and backward run in a process of their own, whose peak resident memory the operating system reports
    (``softcap_course.grading.measure``)."""

    active = False
    peak = 0
    start = None  # (trusted parts, student parts, timeout, sandboxed) of the submission being verified


def _measured_call(name, args, kwargs):
    """The call measured in a fresh process: returns a stand-in for its result (a leaf of the same shape and dtype,
    so that the test's ``.backward()`` works); its peak goes to ``_Measure.peak``."""
    import torch

    from softcap_course.memory import kernels_are_skipped

    from softcap_course.grading import measure

    trusted, student, timeout, sandboxed = _Measure.start
    probe = measure.probe_for(trusted, timeout=timeout, sandboxed=sandboxed)
    views = _Views(frames=[])
    try:
        reply = probe.measure({"measure": name, "student": student, **views.request(args, kwargs),
                               "skip_kernels": kernels_are_skipped()}, frames=views.frames)
    except WorkerFailed:
        measure.forget(probe)
        raise
    if "raised" in reply:
        _raise_like(reply)
    _Measure.peak = max(_Measure.peak, int(reply["peak"]))
    return torch.zeros(reply["shape"], dtype=getattr(torch, reply["dtype"]), requires_grad=True)


class _Speculation:
    """Chapter 4's tests draw thousands of samples in loops of identical calls (same plain arguments, one NumPy
    generator carried from call to call). One round trip per draw costs more than the draw: when a call repeats
    the previous one on the state that one left, the worker is asked to make the next calls too (2, 4, 8, ... at a
    time), and the calls that follow are answered from those replies for as long as they are the same call on the
    state the previous reply left. Anything else (other arguments, a generator moved in between, an exception)
    ends the run of replies, and the call goes to the worker as usual. For a function whose draws depend only on
    its arguments and the generator, this is exactly the one-by-one result."""

    most = 1024  # calls asked for at once, at most (1: every call is a round trip of its own)

    def __init__(self):
        self.key, self.state, self.depth, self.ahead = None, None, 1, []

    @staticmethod
    def key_of(request, generators):
        """The call without its generator's state; None unless it is plain data with exactly one generator."""
        if len(generators) != 1 or request.get("storages"):
            return None
        bare = {**request, "args": [_without_state(a) for a in request["args"]],
                "kwargs": {k: _without_state(v) for k, v in request["kwargs"].items()}}
        return json.dumps(bare, sort_keys=True)

    def answer(self, worker, request, key, state):
        if key is not None and key == self.key and state == self.state and self.most > 1:
            if self.ahead:
                return self._next()
            self.depth = min(self.depth * 2, self.most)
            replies = worker.ask({**request, "repeat": self.depth}).get("replies")
            if not isinstance(replies, list) or not replies or not all(isinstance(r, dict) for r in replies):
                raise WorkerFailed("the worker answered a repeated call with no replies")
            self.ahead = replies[:self.depth]
            return self._next()
        self.key, self.depth, self.ahead = key, 1, []
        reply = worker.ask(request)
        self.state = _first_state(reply) if key is not None else None
        return reply

    def _next(self):
        reply = self.ahead.pop(0)
        self.state = _first_state(reply)
        if self.state is None:  # an exception: nothing after it is known
            self.key, self.ahead = None, []
        return reply


def _without_state(packed):
    plain = packed.get("__plain__") if isinstance(packed, dict) else None
    return {"__plain__": "__rng__"} if isinstance(plain, dict) and "__rng__" in plain else packed


def _first_state(reply):
    states = reply.get("rngs") if "raised" not in reply else None
    return states[0] if isinstance(states, list) and states else None


def _proxy(worker, name):
    speculation = _Speculation()

    def call(*args, **kwargs):
        if _Measure.active and any(getattr(a, "requires_grad", False) for a in list(args) + list(kwargs.values())):
            return _measured_call(name, args, kwargs)
        views = _Views()
        request = {"call": name, **views.request(args, kwargs),
                   "env": {key: os.environ.get(key) for key in FUNCTION_ENVIRONMENT}}
        generators = [a for a in list(args) + list(kwargs.values()) if isinstance(a, np.random.Generator)]
        key = _Speculation.key_of(request, generators)
        reply = speculation.answer(worker, request, key,
                                   generators[0].bit_generator.state if key is not None else None)
        if "raised" in reply:
            _raise_like(reply)
        views.write_back(reply)
        for generator, state in zip(generators, reply.get("rngs", [])):
            generator.bit_generator.state = state
        value = decode(reply["value"])
        if reply.get("differentiable"):
            leaves = [a for a in list(args) + list(kwargs.values()) if getattr(a, "requires_grad", False)]
            value = _differentiable(value, leaves, lambda incoming: _backward(worker, request, incoming),
                                    reply.get("custom", False))
        return value

    def remote_vocab_parallel(logits, targets, cap, widths, **options):
        """``softcap_course.distributed.run_vocab_parallel`` in the worker, on the student's real function (its
        processes are forked there, inside the sandbox); only the ranks' results come back."""
        from softcap_course.distributed import RankResult

        request = {"vocab_parallel": name, "args": encode([logits, targets, cap, list(widths)]),
                   "kwargs": encode(options)}
        reply = worker.ask(request, timeout=float(options.get("timeout", 30.0)) * 2 + 30.0)
        if "raised" in reply:
            _raise_like(reply)
        return [RankResult(*decode(fields)) for fields in reply["ranks"]]

    call.__name__ = call.__qualname__ = name
    call._proxy = True
    call._speculation = speculation
    call.remote_vocab_parallel = remote_vocab_parallel
    return call


class _Views:
    """Tensor arguments as views of their whole storages (so that strides, and what lies between a view's entries,
    cross the pipe as they are); after the call the worker sends back each storage the function or kernel wrote
    into, and it is copied into the caller's, as if that code had run here."""

    def __init__(self, frames=None):
        self.storages, self.sent, self._index = [], [], {}
        self.frames = frames  # a list: the storages' bytes travel raw after the request's line (Worker.ask)

    def pack(self, value):
        if not type(value).__module__.startswith("torch"):  # not a tensor: no need to import torch (3 s) to say so
            return {"__plain__": encode(value)}
        import torch

        if not isinstance(value, torch.Tensor) or value.is_sparse or value.layout != torch.strided:
            return {"__plain__": encode(value)}
        storage = value.untyped_storage()
        key = (str(storage.device), storage.data_ptr())
        if key not in self._index:
            self._index[key] = len(self.storages)
            whole = value.detach().new_empty(0).set_(storage, 0, (storage.nbytes() // value.element_size(),), (1,))
            self.storages.append(whole)
            self.sent.append(encode(whole, self.frames))
        return {"__view__": self._index[key], "shape": list(value.shape), "stride": list(value.stride()),
                "offset": value.storage_offset(), "requires_grad": value.requires_grad}

    def request(self, args, kwargs):
        packed = {"args": [self.pack(a) for a in args], "kwargs": {k: self.pack(v) for k, v in kwargs.items()}}
        return {**packed, "storages": self.sent}

    def write_back(self, reply):
        if not reply.get("written"):
            return
        import torch

        for index, value in reply.get("written", {}).items():
            mine, theirs = self.storages[int(index)], decode(value)
            if not isinstance(theirs, torch.Tensor) or theirs.shape != mine.shape or theirs.dtype != mine.dtype:
                raise WorkerFailed("a storage came back changed in shape or dtype")
            with torch.no_grad():
                mine.copy_(theirs.to(mine.device))


class _KernelProxy:
    """A Triton kernel held by the worker: ``kernel[grid](*args, **kwargs)`` launches it there, on views of the
    caller's storages, and what it wrote comes back into them."""

    _proxy = True

    def __init__(self, worker, name, answer_cells=(), sandboxed=True):
        self.worker, self.name = worker, name
        # The submitted source, for checks that read the kernel instead of running it (compiling it for a GPU).
        self.answer_cells, self.sandboxed = list(answer_cells), sandboxed

    def __getitem__(self, grid):
        grid = grid if isinstance(grid, tuple) else (grid,)
        if not all(isinstance(g, int) for g in grid):
            raise Unverifiable("a kernel's grid must be a tuple of integers here (not a function of the meta-parameters)")

        def launch(*args, **kwargs):
            views = _Views()
            reply = self.worker.ask({"launch": self.name, "grid": list(grid), **views.request(args, kwargs)})
            if "raised" in reply:
                _raise_like(reply)
            views.write_back(reply)

        return launch

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self.name} is a Triton kernel: launch it as {self.name}[grid](...)")


def _backward(worker, request, incoming):
    """The gradients of the student's function for the leaves, given the gradient flowing into its result."""
    reply = worker.ask({**request, "grad_output": encode(incoming)})
    if "raised" in reply:
        _raise_like(reply)
    return [None if g is None else decode(g) for g in reply["grads"]]


def _differentiable(value, leaves, backward, custom):
    """``value`` as a function of ``leaves`` whose backward pass asks the worker (with the real incoming gradient),
    through a custom ``autograd.Function`` node only where the student's result came from one."""
    import torch

    if not isinstance(value, torch.Tensor) or not value.is_floating_point() or not leaves:
        return value
    cache = {}

    def gradient_of(index, incoming):
        key = incoming.detach().cpu().double().numpy().tobytes()
        if key not in cache:
            cache[key] = backward(incoming.detach().reshape(value.shape).to(value.dtype))
        grad = cache[key][index]
        return torch.zeros_like(leaves[index]) if grad is None else grad.to(leaves[index].dtype)

    total = value.detach().clone()
    for index, leaf in enumerate(leaves):
        copy = leaf * 1  # a node of our own: its hook receives the incoming gradient, and hands out the student's
        copy.register_hook(lambda incoming, index=index: gradient_of(index, incoming.reshape(-1)[:1].reshape(())
                                                                      if value.dim() == 0 else incoming))
        total = total + (copy.sum() - copy.sum().detach()).to(value.dtype)
    if custom:
        class Passed(torch.autograd.Function):  # only so that the result carries a custom Function node
            @staticmethod
            def forward(ctx, tensor):
                return tensor.clone()

            @staticmethod
            def backward(ctx, grad_output):
                return grad_output

        total = Passed.apply(total)
    return total


def _fake_peak_tensor_bytes(function, *args, **kwargs):
    """``peak_tensor_bytes`` for the grader's run: ``function`` runs here, and each call of a student's function with
    gradients in it is measured by the operating system in a process of its own. Returns (the function's result,
    the largest peak measured, None): the largest single tensor is not known from outside."""
    _Measure.active, _Measure.peak = True, 0
    try:
        result = function(*args, **kwargs)
    finally:
        _Measure.active = False
    return result, _Measure.peak, None


@contextlib.contextmanager
def _memory_measured_in_the_worker(source):
    if "peak_tensor_bytes" not in source:
        yield
        return
    import softcap_course.memory as memory

    real = memory.peak_tensor_bytes
    memory.peak_tensor_bytes = _fake_peak_tensor_bytes
    try:
        yield
    finally:
        memory.peak_tensor_bytes = real


HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
# A test cell with this line runs only here when autograding, not in the kernel too: a check that reads the submitted
# source instead of running the student's code (compiling a Triton kernel for a GPU) gives the same answer in both,
# and the kernel's answer never counts. Its failure is shown as the check's own, not as suspected tampering. Such a
# cell stands on its own (it imports what it uses) and calls none of the student's code: it runs in a thread of its
# own, started with the verification, beside the cells that call the worker.
GRADER_ONLY = "# Autograding runs this cell in the grader only"


def split_hidden(source):
    """(the visible part, the hidden part) of a test cell's source."""
    begin, end = HIDDEN
    if begin not in source:
        return source, ""
    visible, rest = source.split(begin, 1)
    hidden, after = rest.split(end, 1) if end in rest else (rest, "")
    return visible + after, hidden


def grader_only(source):
    """Whether a test cell runs only in the grader when autograding (it has the line ``GRADER_ONLY``)."""
    return any(line.strip().startswith(GRADER_ONLY) for line in source.splitlines())


class Verdict:
    """A test cell's verification: passed, or failed in its visible or its hidden part, with the message (which starts
    with ``error``, the exception's name, when the test raised one)."""

    def __init__(self, part=None, message="", error=""):
        self.part, self.message, self.error = part, message, error

    @property
    def passed(self):
        return self.part is None

    @property
    def detail(self):
        """The message without the exception's name in front (what the exception said)."""
        return self.message.removeprefix(f"{self.error}: ") if self.error else self.message

    def __repr__(self):
        return "passed" if self.passed else f"failed ({self.part}): {self.message[:200]}"


def _bind_answers(worker, namespace, answer_cells=(), sandboxed=True):
    """Every name the answer code defines, except those of the trusted cells: functions become proxies, data (a
    prediction, a constant) is fetched once."""
    for name, kind in worker.names.items():
        if (name in namespace and not getattr(namespace[name], "_proxy", False)) or not name.isidentifier():
            continue
        if kind == "callable":
            namespace[name] = _proxy(worker, name)
        elif kind == "kernel":
            namespace[name] = _KernelProxy(worker, name, answer_cells, sandboxed)
        else:
            reply = worker.ask({"get": name})
            if "value" in reply:
                try:
                    namespace[name] = decode(reply["value"])
                except (WorkerFailed, ValueError, TypeError):
                    pass


def verify(cells, timeout=60.0, sandboxed=True):
    """Run the notebook's test cells (visible part, then hidden part) in this process against a worker holding the
    answer code. Returns grade_id -> Verdict."""
    tests = [c for c in cells if c.get("cell_type") == "code" and nbgrader_meta(c).get("grade")]
    source, trusted = answer_code(cells)
    # The student's cells as written (line numbers and all), for checks that read a kernel's source.
    written = [c.get("source", "") for c in cells if c.get("cell_type") == "code" and not nbgrader_meta(c).get("grade")
               and not (nbgrader_meta(c).get("locked") and not nbgrader_meta(c).get("solution"))]
    _Measure.start = (source[:trusted], source[trusted:], timeout, sandboxed)
    namespace = {"__name__": "__verification__", "print": lambda *args, **kwargs: None}
    for cell in cells:  # the restored locked cells (imports), run here too: the tests rely on their names
        meta = nbgrader_meta(cell)
        if cell.get("cell_type") == "code" and meta.get("locked") and not meta.get("grade") and not meta.get("solution"):
            with _quiet():
                try:
                    exec(compile(cell["source"], "<imports>", "exec"), namespace)
                except Exception:  # noqa: BLE001 (the display call of an explorer cell, say)
                    pass
    try:
        worker = SubmissionWorker(source, timeout=timeout, sandboxed=sandboxed, trusted=trusted)
        _bind_answers(worker, namespace, written, sandboxed)
    except (WorkerFailed, Unverifiable) as error:
        return {nbgrader_meta(c)["grade_id"]: Verdict("visible", f"your answer code did not run outside the notebook: "
                                                                 f"{error}") for c in tests}
    results = {}
    # The cells that only read the submitted source start now, each in a thread beside the others: a GPU compile waits
    # on its own process, while the other cells wait on the worker.
    alone = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="softcap-grader-only")
    early = {}
    for cell in tests:
        if grader_only(cell.get("source", "")):
            grade_id = nbgrader_meta(cell)["grade_id"]
            # Warnings are not silenced in these threads: their filters belong to the process, not to a thread.
            early[grade_id] = alone.submit(_cell_verdict, grade_id, cell["source"], dict(namespace),
                                           lambda code: np.errstate(all="ignore"))
    try:
        for cell in tests:
            grade_id = nbgrader_meta(cell)["grade_id"]
            if grade_id in early:
                results[grade_id], _ = early[grade_id].result()
                continue
            results[grade_id], stopped = _cell_verdict(grade_id, cell["source"], namespace, _guarded)
            if stopped:
                worker.close()
                try:  # a fresh worker for the next cells
                    worker = SubmissionWorker(source, timeout=timeout, sandboxed=sandboxed, trusted=trusted)
                    _bind_answers(worker, namespace, written, sandboxed)
                except (WorkerFailed, Unverifiable):
                    pass
    finally:
        alone.shutdown(wait=True, cancel_futures=True)
        worker.close()
    return results


def _cell_verdict(grade_id, source, namespace, guard):
    """Run a test cell, its visible part then its hidden part, each inside ``guard(code)``: (its Verdict, whether
    the worker stopped answering)."""
    for part, code in zip(("visible", "hidden"), split_hidden(source)):
        try:
            with guard(code):
                exec(compile(code, f"<{grade_id}>", "exec"), namespace)
        except WorkerFailed as error:
            return Verdict(part, f"the function did not answer: {error}"), True
        except GradingInfrastructureError:
            raise
        except Exception as error:  # noqa: BLE001 (a failing test: AssertionError, or the function's error)
            return Verdict(part, f"{type(error).__name__}: {error}", type(error).__name__), False
    return Verdict(), False


@contextlib.contextmanager
def _guarded(code):
    """Around a test cell's part in the verification's own thread: warnings silenced, memory measured in the worker."""
    with _quiet(), _memory_measured_in_the_worker(code):
        yield


@contextlib.contextmanager
def _quiet():
    import warnings

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


# ------------------------------------------------------------------------------------------------ nbgrader's side


def _passed_in_kernel(cell):
    return not any(o.get("output_type") == "error" or (o.get("output_type") == "stream" and o.get("name") == "stderr")
                   for o in cell.get("outputs", []))


def _fail(cell, ename, text):
    """Make the verified failure decide the cell's score: nbgrader scores a cell by its first error, stderr or value,
    so the error goes first."""
    from nbformat.v4 import new_output

    cell.outputs.insert(0, new_output("error", ename=ename, evalue=text, traceback=[f"{ename}: {text}"]))


def _values_never_score(cell):
    """A test cell's value (an ``execute_result``) is shown, but never scored: nbgrader would give partial or full
    credit from it before looking at anything else."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "execute_result":
            output["output_type"] = "display_data"
            output.pop("execution_count", None)


class StartVerification(NbGraderPreprocessor):
    """Before nbgrader's Execute: start verifying the submission outside the kernel (a thread of this process and a
    sandboxed worker), and give the kernel the test cells' visible parts only: the hidden parts run here, where
    student code cannot reach them, and run once. A cell marked ``GRADER_ONLY`` runs here only: the kernel gets a
    comment in its place."""

    call_timeout = Float(60.0, help="Seconds one call of a graded function may take in the worker.").tag(config=True)

    def preprocess(self, nb, resources):
        import copy
        import threading

        sandboxed = sandbox.problem() is None
        if not sandboxed and os.environ.get(sandbox.ALLOW_UNSANDBOXED) != "1":
            raise RuntimeError(f"verification refused: the sandbox cannot start ({sandbox.problem()})")
        cells = copy.deepcopy(nb.cells)
        outcome = {"started": time.monotonic()}
        if sandboxed:  # the kernels' zygote runs the notebook's own import cells before it forks any
            from softcap_course.grading import kernel_zygote

            source, trusted = answer_code(cells)
            info = resources.get("nbgrader", {})
            kernel_zygote.expect_trusted_cells(source[:trusted], info.get("student", "?"), info.get("notebook", "?"))

        def run():
            try:
                outcome["results"] = verify(cells, timeout=self.call_timeout, sandboxed=sandboxed)
            except Exception:  # noqa: BLE001 (a bug here must not pass as a student's failure)
                outcome["crash"] = traceback.format_exc()
                outcome["cause"] = " | ".join(line.strip() for line in str(sys.exc_info()[1]).splitlines()
                                              if line.strip())[:600] or sys.exc_info()[0].__name__
            outcome["seconds"] = time.monotonic() - outcome["started"]

        thread = threading.Thread(target=run, name="softcap-verification", daemon=True)
        thread.start()
        sources = {}
        for cell in nb.cells:
            if cell.get("cell_type") == "code" and nbgrader_meta(cell).get("grade"):
                sources[nbgrader_meta(cell)["grade_id"]] = cell.source
                cell.source = (f"{GRADER_ONLY}, outside the notebook: its result is below."
                               if grader_only(cell.source) else split_hidden(cell.source)[0])
        resources["softcap_verification"] = (thread, outcome, sources)
        return nb, resources


class VerifyOutsideKernel(NbGraderPreprocessor):
    """After nbgrader's Execute: put the hidden tests back in the test cells, wait for the verification, and make its
    result decide every test cell's score: a cell it failed scores 0 whatever the kernel printed or returned (its
    error goes first in the cell's outputs). A visible part that the kernel passed and the verification failed is
    reported as suspected tampering. When grading itself failed (a worker that could not start, a bug), the submission
    is left ungraded with the cause, never scored from the kernel alone."""

    def preprocess(self, nb, resources):
        thread, outcome, sources = resources.pop("softcap_verification")
        for cell in nb.cells:
            grade_id = nbgrader_meta(cell).get("grade_id")
            if cell.get("cell_type") == "code" and grade_id in sources:
                cell.source = sources[grade_id]
        thread.join()
        info = resources.get("nbgrader", {})
        student = info.get("student", "?")
        if "crash" in outcome:
            self.log.error("grading infrastructure failure: %s, %s: %s", student, info.get("notebook", "?"),
                           outcome["cause"])
            raise GradingInfrastructureError(f"the verification of {student} failed (not the student's fault; the "
                                             f"submission is left ungraded):\n{outcome['crash']}")
        results = outcome["results"]
        for cell in nb.cells:
            meta = nbgrader_meta(cell)
            if not meta.get("grade") or cell.get("cell_type") != "code":
                continue
            _values_never_score(cell)
            verdict = results.get(meta.get("grade_id"))
            if verdict is None or verdict.passed:
                continue
            if not _passed_in_kernel(cell):
                continue  # an error or stderr already scores it 0 (its values never score)
            if grader_only(cell.source):  # the kernel ran none of it: the failure is the test's own, as it raised it
                _fail(cell, verdict.error or "VerificationFailed", verdict.detail)
            elif verdict.part == "hidden":
                _fail(cell, "HiddenTestFailed", f"a hidden test of this cell failed: {verdict.message}")
            else:
                self.log.warning("suspected tampering: %s, %s: cell %s passed in the notebook but failed when re-run "
                                 "outside it: %s", student, info.get("notebook", "?"), meta["grade_id"],
                                 verdict.message.splitlines()[0] if verdict.message else "")
                _fail(cell, "VerificationFailed", "this test passed inside the notebook but failed when the grader ran "
                                                  f"it outside the notebook's process (that result counts): {verdict.message}")
        self.log.info("verified %s outside the kernel in %.1f s", student, outcome.get("seconds", 0.0))
        return nb, resources
