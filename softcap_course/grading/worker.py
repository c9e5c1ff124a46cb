"""The verification worker: runs inside the grading sandbox, holds one submission's answer code, answers calls.

Started by ``softcap_course.grading.verification`` as ``python -m softcap_course.grading.worker``: the warm worker,
which runs the notebook's import cells once and forks one child per submission (``_zygote``); the child runs the
answer code and answers the calls. Requests and replies are JSON lines; arrays and tensors travel as raw bytes
with their dtype and shape, so either side builds nothing but data.
"""

import base64
import json
import linecache
import os
import sys

import numpy as np

from softcap_course.raised import raised_reply

class Unverifiable(Exception):
    """A test called a graded function with something that cannot cross the process boundary."""


class WorkerFailed(Exception):
    """The worker died, timed out or answered nonsense."""


class GradingInfrastructureError(Exception):
    """Grading itself failed (a worker that cannot start or import its package, the notebook's own import cell failing
    in the sandbox, a bug in the verification): the grader's fault, never the student's. The submission is left
    ungraded, and the round says why."""


# ------------------------------------------------------------------------------------------------ data across the pipe


def _b64(data):
    return base64.b64encode(data).decode("ascii")


def encode(value, frames=None):
    """A JSON-able, tagged form of ``value``: None, bool, int, float, str, lists, tuples, dicts, NumPy arrays and
    scalars, torch tensors, dtypes and devices, NumPy generators. Anything else raises Unverifiable.

    With a list ``frames``, a tensor's bytes are not put in the JSON but appended to ``frames``, to travel raw after
    the request's line (the memory zygote's requests: its logits are 100 MB or more, and base64 inside JSON costs
    about 2 s per 128 MB on the two sides)."""
    if isinstance(value, np.generic):  # before float: np.float64 is a float
        if value.dtype.kind not in "biufc":
            raise Unverifiable(f"a NumPy scalar of dtype {value.dtype}")
        return {"__np__": _b64(np.asarray(value).tobytes()), "dtype": value.dtype.str}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            raise Unverifiable(f"an array of dtype {value.dtype}")
        return {"__nd__": _b64(np.ascontiguousarray(value).tobytes()), "dtype": value.dtype.str, "shape": value.shape}
    if isinstance(value, (list, tuple)):
        return {"__list__" if isinstance(value, list) else "__tuple__": [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"__dict__": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, np.random.Generator):
        return {"__rng__": value.bit_generator.state}
    module = type(value).__module__
    if module.startswith("torch"):
        import torch

        if isinstance(value, torch.Tensor):
            data = value.detach().cpu().contiguous()
            raw = (data.view(torch.int16) if data.dtype == torch.bfloat16 else data).numpy()
            if frames is not None:
                frames.append(raw)
                payload = {"__tensor__": None, "frame": len(frames) - 1}
            else:
                payload = {"__tensor__": _b64(raw.tobytes())}
            return {**payload, "dtype": str(data.dtype).replace("torch.", ""),
                    "shape": list(data.shape), "device": str(value.device), "requires_grad": value.requires_grad}
        if isinstance(value, torch.dtype):
            return {"__torch_dtype__": str(value).replace("torch.", "")}
        if isinstance(value, torch.device):
            return {"__device__": str(value)}
    raise Unverifiable(f"a value of type {type(value).__name__}")


def decode(value, frames=()):
    """The value that ``encode`` tagged (nothing but data is ever built); ``frames``: the raw payloads that followed
    the request's line, for a tensor that ``encode`` put in a frame."""
    if not isinstance(value, (dict, list)):
        return value
    if isinstance(value, list):  # plain JSON lists only come from inside tagged containers
        return [decode(v) for v in value]
    if "__nd__" in value:
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in "biufc":
            raise WorkerFailed(f"refused dtype {dtype}")
        return np.frombuffer(base64.b64decode(value["__nd__"]), dtype=dtype).reshape(value["shape"]).copy()
    if "__np__" in value:
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in "biufc":
            raise WorkerFailed(f"refused dtype {dtype}")
        return np.frombuffer(base64.b64decode(value["__np__"]), dtype=dtype)[0]
    if "__list__" in value:
        return [decode(v) for v in value["__list__"]]
    if "__tuple__" in value:
        return tuple(decode(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {decode(k): decode(v) for k, v in value["__dict__"]}
    if "__rng__" in value:
        generator = np.random.Generator(np.random.PCG64())
        generator.bit_generator.state = value["__rng__"]
        return generator
    if "__tensor__" in value or "__torch_dtype__" in value or "__device__" in value:
        import torch

        if "__torch_dtype__" in value:
            return _torch_dtype(value["__torch_dtype__"])
        if "__device__" in value:
            return torch.device(value["__device__"])
        dtype = _torch_dtype(value["dtype"])
        element = np.int16 if dtype == torch.bfloat16 else _numpy_dtype(dtype)
        if value["__tensor__"] is None:  # raw bytes in a frame of their own, read into a fresh bytearray: no copy
            index = value.get("frame")
            if not isinstance(index, int) or not 0 <= index < len(frames):
                raise WorkerFailed(f"a tensor names frame {index!r} of {len(frames)}")
            raw = np.frombuffer(frames[index], dtype=element)
        else:
            raw = np.frombuffer(base64.b64decode(value["__tensor__"]), dtype=element).copy()
        tensor = torch.from_numpy(raw)
        tensor = (tensor.view(torch.bfloat16) if dtype == torch.bfloat16 else tensor).reshape(value["shape"])
        device = value.get("device", "cpu")
        if device != "cpu" and torch.cuda.is_available():
            tensor = tensor.to(device)
        return tensor.requires_grad_(bool(value.get("requires_grad")) and tensor.is_floating_point())
    raise WorkerFailed(f"unknown tag in {sorted(value)[:3]}")


def _torch_dtype(name):
    import torch

    dtype = getattr(torch, str(name), None)
    if not isinstance(dtype, torch.dtype):
        raise WorkerFailed(f"refused torch dtype {name!r}")
    return dtype


def _numpy_dtype(dtype):
    import torch

    return torch.empty((), dtype=dtype).numpy().dtype


# ------------------------------------------------------------------------------------------------ the worker's side


def _custom_nodes(tensor):
    import torch

    todo, seen = [tensor.grad_fn], set()
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, torch.autograd.function.BackwardCFunction):
            return True
        todo.extend(next_node for next_node, _ in node.next_functions)
    return False


def _run_cells(parts, timeout, namespace, trusted=()):
    """Run the answer code cell by cell, as the notebook runs them: a cell that raises stops there, and the next cell
    still runs. A cell may run as long as in the kernel: an endless loop is stopped by an alarm, as nbgrader interrupts
    it. Returns the errors of the ``trusted`` cells (the instructor's, run before any cell of the student's)."""
    import signal

    def stop(signum, frame):
        raise TimeoutError("the cell ran past the time limit")

    signal.signal(signal.SIGALRM, stop)
    errors = []
    for index, code in enumerate(parts):
        try:
            signal.setitimer(signal.ITIMER_REAL, float(timeout))
            filename = f"<answer cell {index}>"
            # Triton reads a kernel's source (inspect.getsourcelines), as it does from a notebook's cell.
            linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
            exec(compile(code, filename, "exec"), namespace)
        except BaseException as error:  # noqa: BLE001 (SystemExit too: the kernel met the same error in the same cell)
            if index in trusted:
                errors.append(f"{type(error).__name__}: {error}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return errors


def _hello(protocol):
    """The first line, written once the worker's own imports worked: the grader tells a worker that could not start
    (its fault, not the student's) from one that student code stopped."""
    import softcap_course

    protocol.write(json.dumps({"hello": True, "package": os.path.dirname(os.path.abspath(softcap_course.__file__))})
                   + "\n")


def _silence():
    """What the student's code prints goes nowhere, never into the protocol."""
    quiet = open(os.devnull, "w")
    os.dup2(quiet.fileno(), 1)
    os.dup2(quiet.fileno(), 2)
    sys.stdout = sys.stderr = quiet
    import warnings

    warnings.simplefilter("ignore")
    np.seterr(all="ignore")


def main():
    """Run inside the sandbox as the warm worker: the notebook's import cells once, then a fresh worker forked for
    each submission (``_zygote``)."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    protocol.write("Z")  # every line of the zygote is tagged (see _zygote): its hello too
    _hello(protocol)
    _silence()
    _zygote(json.loads(sys.stdin.readline()), protocol)


def _serve_submission(source, timeout, protocol, requests, namespace):
    """One submission, in a child of the zygote: run its answer code in ``namespace`` (which holds what the notebook's
    import cells defined), say which names it defined, answer calls until the requests end."""
    given = {"__name__", "display"}
    try:
        _run_cells(source, timeout, namespace)
        names = {name: _kind(value) for name, value in namespace.items()
                 if name not in given and not name.startswith("__") and type(value).__name__ != "module"}
        protocol.write(json.dumps({"ready": True, "names": names}) + "\n")
    except BaseException as error:  # noqa: BLE001 (the student's code may raise anything)
        protocol.write(json.dumps({"ready": False, "error": f"{type(error).__name__}: {error}"}) + "\n")
        return
    for line in requests:
        request = json.loads(line)
        try:
            reply = _serve(namespace, request)
        except BaseException as error:  # noqa: BLE001
            reply = raised_reply(error)
        protocol.write(json.dumps(reply) + "\n")


# ------------------------------------------------------------------------------------------------ the warm worker

END = b'{"end": true}\n'  # the grader's line that ends a submission's worker (never passed on to it)


def _zygote(start, protocol):
    """The warm worker: import once, fork a worker per submission, leave nothing of it behind.

    The zygote runs only the notebook's restored import cells (no student code), then for each ``{"fork": ...}``
    request forks a child that runs the submission's answer code on a copy of that state and answers its calls, as a
    fresh worker would. The child never holds the grader's pipes: the zygote passes each request line on to it and
    each of its reply lines back, tagged ``R``; the zygote's own lines are tagged ``Z``, so nothing the child writes
    can pass for the zygote's word (a line of the child's always starts with ``R``, whatever it contains). When the
    grader ends the submission (``END``), or the child dies, every process of the sandbox but the zygote is killed and
    reaped, and ``/tmp`` and ``/dev/shm`` are emptied, before the next submission's child is forked. The zygote is not
    dumpable: a child can neither trace it nor read its memory."""
    import signal

    from softcap_course.grading import measure

    measure.become_a_zygote()
    measure._IN_ITS_OWN_SANDBOX = start.get("sandboxed") is True
    timeout = start.get("timeout", 60.0)
    namespace = {"__name__": "__main__", "display": lambda *a, **k: None}
    errors = _run_cells(start["trusted"], timeout, namespace, set(range(len(start["trusted"]))))
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    protocol.write("Z" + json.dumps({"ready": True, "trusted_errors": errors}) + "\n")
    out = protocol.fileno()
    grader = _Lines(0)
    while True:
        line = grader.line()
        if line is None:
            return
        if line == END:  # a submission whose child already ended
            _say(out, {"ended": True})
            continue
        request = json.loads(line)
        to_child_r, to_child = os.pipe()
        from_child, from_child_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the submission's worker: its requests and replies on pipes of its own, nothing of the grader's
            try:
                os.dup2(to_child_r, 0)
                os.dup2(from_child_w, out)
                for fd in (to_child_r, to_child, from_child, from_child_w):
                    os.close(fd)
                _serve_submission(request["source"], timeout, protocol, open(0, "r", closefd=False), dict(namespace))
            finally:
                os._exit(0)
        os.close(to_child_r)
        os.close(from_child_w)
        at_line_start = _relay(grader, out, to_child, from_child)
        os.close(to_child)
        os.close(from_child)
        measure._reap_all()
        measure._clean_scratch()
        _say(out, {"ended": True}, end_the_line=not at_line_start)


def _relay(grader, out, to_child, from_child):
    """Pass the grader's lines to the child and the child's lines back (tagged ``R``), until the grader's ``END``.
    If the child's output ends first (it died, or closed it), say so (``died``) and wait for the ``END``. Returns
    whether the output stopped at the start of a line (a child ended half-way through one leaves it open)."""
    import select

    at_line_start, child_open = True, True
    while True:
        if grader.pending():
            ready = [grader.fd]
        else:
            ready = select.select([grader.fd] + ([from_child] if child_open else []), [], [])[0]
        if grader.fd in ready:
            line = grader.line()
            if line is None or line == END:
                return at_line_start
            if child_open:
                try:
                    _write_all(to_child, line)
                except OSError:  # the child is gone: its output ends too, and that is reported
                    pass
            continue
        data = os.read(from_child, 2**16)
        if not data:
            child_open = False
            _say(out, {"died": True}, end_the_line=not at_line_start)
            at_line_start = True
            continue
        tagged = bytearray()
        for index, piece in enumerate(data.split(b"\n")):
            if index:
                tagged += b"\n"
                at_line_start = True
            if piece:
                if at_line_start:
                    tagged += b"R"
                    at_line_start = False
                tagged += piece
        _write_all(out, tagged)


def _say(out, message, end_the_line=False):
    """A line of the zygote's own (tagged ``Z``), on a line of its own."""
    _write_all(out, (b"\n" if end_the_line else b"") + b"Z" + json.dumps(message).encode() + b"\n")


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _Lines:
    """Whole lines (bytes, with their newline) read from a file descriptor without reading past what is there."""

    def __init__(self, fd):
        self.fd, self.buffer = fd, bytearray()

    def pending(self):
        return b"\n" in self.buffer

    def line(self):
        """The next line, waiting for it; None at the end of the input."""
        while b"\n" not in self.buffer:
            data = os.read(self.fd, 2**16)
            if not data:
                return None
            self.buffer += data
        end = self.buffer.index(b"\n") + 1
        line = bytes(self.buffer[:end])
        del self.buffer[:end]
        return line


def _kind(value):
    if type(value).__module__.startswith("triton") and hasattr(value, "__getitem__"):
        return "kernel"  # a @triton.jit function: launched as kernel[grid](...), never called
    return "callable" if callable(value) and not isinstance(value, type) else "value"


def _arguments(request, frames=()):
    """The call's arguments: tensors rebuilt as views of the storages sent whole, everything else decoded."""
    storages = [decode(value, frames) for value in request.get("storages", [])]

    def rebuild(value):
        if isinstance(value, dict) and "__view__" in value:
            view = storages[int(value["__view__"])].as_strided(value["shape"], value["stride"], value["offset"])
            return view.requires_grad_(bool(value.get("requires_grad")) and view.is_floating_point())
        if isinstance(value, dict) and "__plain__" in value:
            return decode(value["__plain__"])
        raise WorkerFailed("an argument is neither a tensor view nor plain data")

    args = [rebuild(a) for a in request["args"]]
    kwargs = {str(k): rebuild(v) for k, v in request["kwargs"].items()}
    return args, kwargs, storages, list(request.get("storages", []))


def _written(storages, sent):
    """The storages whose bytes changed since they arrived (what the code wrote into its arguments)."""
    written = {}
    for index, (storage, before) in enumerate(zip(storages, sent)):
        after = encode(storage.detach())
        if after["__tensor__"] != before["__tensor__"]:
            written[str(index)] = after
    return written


def _launch(namespace, request):
    """Launch a kernel (``kernel[grid](...)``) on the arguments sent; reply with the storages it wrote into."""
    import torch

    args, kwargs, storages, sent = _arguments(request)
    grid = tuple(int(g) for g in request["grid"])
    namespace[request["launch"]][grid](*args, **kwargs)
    if any(s.is_cuda for s in storages):
        torch.cuda.synchronize()
    return {"written": _written(storages, sent)}


# A repeated call (see verification._Speculation) stops after this many calls or this many seconds, whichever first.
REPEAT_MOST, REPEAT_SECONDS = 1024, 0.5


def _generator_slots(request):
    """The arguments of a request that are NumPy generators (their state travels as data), in the order the
    function receives them."""
    plain = [a for a in list(request["args"]) + list(request["kwargs"].values()) if "__plain__" in a]
    return [a for a in plain if isinstance(a["__plain__"], dict) and "__rng__" in a["__plain__"]]


def _serve_repeated(namespace, request):
    """The same call made again and again, each on the generator state the previous one left: what the grader's
    loop of identical calls would send one by one (verification._Speculation). Only for plain data and one
    generator; it stops at the first exception, since the state after it is unknown."""
    import time

    count = max(1, min(int(request["repeat"]), REPEAT_MOST))
    one = {key: value for key, value in request.items() if key != "repeat"}
    if len(_generator_slots(one)) != 1 or one.get("storages") or "call" not in one or "grad_output" in one:
        raise WorkerFailed("only a call on plain data with one generator can be repeated")
    replies, started = [], time.monotonic()
    while len(replies) < count and (not replies or time.monotonic() - started < REPEAT_SECONDS):
        one = json.loads(json.dumps(one))  # every call decodes fresh arguments, as a separate request would
        try:
            reply = _serve(namespace, one)
        except BaseException as error:  # noqa: BLE001 (the student's code may raise anything)
            replies.append(raised_reply(error))
            break
        replies.append(reply)
        _generator_slots(one)[0]["__plain__"] = {"__rng__": reply["rngs"][0]}
    return {"replies": replies}


def _serve(namespace, request):
    if "repeat" in request:
        return _serve_repeated(namespace, request)
    if "get" in request:
        return {"value": encode(namespace[request["get"]])}
    if "launch" in request:
        return _launch(namespace, request)
    if "vocab_parallel" in request:
        from softcap_course.distributed import run_vocab_parallel

        logits, targets, cap, widths = decode(request["args"])
        ranks = run_vocab_parallel(namespace[request["vocab_parallel"]], logits, targets, cap, widths,
                                   **decode(request["kwargs"]))
        return {"ranks": [encode([r.rank, r.replica, r.vocab_start, r.loss, r.grad, r.moved]) for r in ranks]}
    for key, value in request.get("env", {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    args, kwargs, storages, sent = _arguments(request)
    generators = [a for a in list(args) + list(kwargs.values()) if isinstance(a, np.random.Generator)]
    function = namespace[request["call"]]
    leaves = [a for a in list(args) + list(kwargs.values()) if type(a).__module__.startswith("torch")
              and getattr(a, "requires_grad", False)]
    reply = {}
    if leaves and "grad_output" in request:
        # The backward pass, with the gradient that really flows in: forward again, then backward.
        incoming = decode(request["grad_output"])

        def forward_backward():
            result = function(*args, **kwargs)
            result.backward(incoming.to(dtype=result.dtype, device=result.device))
            return result

        result = forward_backward()
        reply["grads"] = [None if leaf.grad is None else encode(leaf.grad) for leaf in leaves]
        reply["value"] = encode(result.detach())
    elif leaves:
        result = function(*args, **kwargs)
        reply["custom"] = _custom_nodes(result) if hasattr(result, "grad_fn") else False
        reply["differentiable"] = bool(getattr(result, "requires_grad", False))
        reply["value"] = encode(result.detach() if hasattr(result, "detach") else result)
    else:
        reply["value"] = encode(function(*args, **kwargs))
    reply["rngs"] = [g.bit_generator.state for g in generators]
    if "grad_output" not in request:  # the first call: what the function wrote into its arguments goes back
        reply["written"] = _written(storages, sent)
    return reply




if __name__ == "__main__":
    main()
