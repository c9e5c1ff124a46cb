"""Chapter 6-7's memory figure in the grader's run, measured by the operating system around the student's call.

In a notebook, ``softcap_course.memory.peak_tensor_bytes`` watches tensor operations from inside the process, which
code in the same process can switch off (PyTorch lets it leave every active dispatch mode). The score therefore comes
from a figure that no code of the student's can influence: the peak resident memory of a process that ran only the
student's forward and backward, as the kernel reports it to the process that waits for it (``wait4``'s
``ru_maxrss``), minus the same figure for a process that did everything but the call.

Both processes are forked from a *zygote*: a sandboxed process that runs no student code. It imports what the
notebook's own (restored) import cells import, builds the call's arguments, and for each measurement forks

* a *baseline* child, which only makes the arguments leaves of the graph, then exits, and
* a *measured* child, which first locks itself down, then runs the student's answer code and the call
  (forward, then backward with a gradient of ones), and sends back the result's shape and dtype.

What the measured child cannot do, so that its peak is its own and whole: start another process or make an anonymous
memory file (a seccomp filter lets ``clone`` make threads only), open more than a few files, write more than a
megabyte outside its memory (the zygote's sandbox has tiny ``/tmp`` and ``/dev/shm``), or reset its own peak
(``/proc`` is read-only in every sandbox). The zygote is not dumpable, so a child cannot trace it or read its files
through ``/proc``. ``skip_kernels`` makes every Triton kernel launch a no-op in the measured child (chapter 7: what the
wrapper allocates, without the interpreter's own copies).
"""

import ctypes
import json
import os
import platform
import select
import signal
import struct
import subprocess
import sys
import time

from softcap_course.grading import sandbox
from softcap_course.grading.worker import GradingInfrastructureError

MEASURE_SCRATCH_BYTES = 2**20  # /tmp and /dev/shm of the zygote's sandbox: no room to stash logits
MEASURED_FILES = 64  # RLIMIT_NOFILE of the measured child: no hoard of socket buffers


# ------------------------------------------------------------------------------------------------ the sandbox's side

# seccomp: (audit arch, clone, clone3, denied syscalls) per machine.
_SYSCALLS = {"x86_64": (0xC000003E, 56, 435, (57, 58, 319)),  # fork, vfork, memfd_create
             "aarch64": (0xC00000B7, 220, 435, (279,))}  # memfd_create (no fork or vfork syscalls there)
_CLONE_THREAD = 0x00010000


def threads_only():
    """Install a seccomp filter on this process: ``clone`` only for threads (``clone3`` answers ENOSYS, so the C
    library falls back to ``clone``), no ``fork``, ``vfork`` or ``memfd_create``. It cannot be removed."""
    arch = platform.machine()
    if arch not in _SYSCALLS:
        raise RuntimeError(f"the memory measurement does not know the system calls of {arch}")
    audit, clone, clone3, denied = _SYSCALLS[arch]
    load, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    program = [(load, 0, 0, 4), (jeq, 1, 0, audit), (ret, 0, 0, eperm), (load, 0, 0, 0)]
    for number in denied:
        program += [(jeq, 0, 1, number), (ret, 0, 0, eperm)]
    program += [(jeq, 0, 1, clone3), (ret, 0, 0, enosys),
                (jeq, 0, 3, clone), (load, 0, 0, 16), (jset, 1, 0, _CLONE_THREAD), (ret, 0, 0, eperm),
                (ret, 0, 0, allow)]
    filters = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(filters)
    fprog = struct.pack("HxxxxxxQ", len(program), ctypes.addressof(buffer))
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    if prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    fprog_buffer = ctypes.create_string_buffer(fprog)
    if prctl(22, 2, ctypes.addressof(fprog_buffer), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


def _maxrss(status):
    return status.ru_maxrss * 1024


# Whether this zygote runs in its own sandbox (its own pid namespace, /tmp and /dev/shm), as the grader says when it
# starts it. Only then may it signal every process it can see and empty /tmp and /dev/shm: outside a sandbox
# (NBGRADER_ALLOW_UNSANDBOXED=1) those are the machine's, and it kills and cleans up only what it started itself.
_IN_ITS_OWN_SANDBOX = False


def become_a_zygote():
    """What a zygote (this one, and the verification's warm worker) is before it forks any child: not dumpable, so no
    child may trace it or open its files via /proc, and their subreaper, so what a child leaves running comes here to
    be killed and reaped (``_reap_all``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _reap_all():
    """Kill and reap every child (orphans of the measured child come here: the zygote is a subreaper)."""
    if _IN_ITS_OWN_SANDBOX:
        try:
            os.kill(-1, signal.SIGKILL)  # every process of this sandbox's pid namespace that this process may signal
        except OSError:
            pass
    while True:
        for pid in sandbox.children():  # and whatever an orphan started: it comes here in turn, until none is left
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.wait4(-1, 0)
        except ChildProcessError:
            return


def _measured_child(namespace, parts, timeout, name, args, kwargs, skip_kernels, write_fd):
    """In the measured child: lock down, run the student's code and the call, report, exit."""
    import resource

    from softcap_course.grading.worker import _custom_nodes, _run_cells
    from softcap_course.raised import raised_reply

    out = os.fdopen(write_fd, "w")
    try:
        # Only the answer pipe and /dev/null (fds 1, 2) stay open: the zygote's requests and protocol are never the
        # student's.
        os.close(0)
        os.closerange(3, write_fd)
        os.closerange(write_fd + 1, 2**16)
        resource.setrlimit(resource.RLIMIT_NOFILE, (MEASURED_FILES, MEASURED_FILES))
        threads_only()
    except BaseException as error:  # noqa: BLE001 (before any student code: the measurement itself is broken)
        out.write(json.dumps({"failed": f"locking the measured process down: {type(error).__name__}: {error}"}))
        out.flush()
        os._exit(0)
    try:
        _run_cells(parts, timeout, namespace)
        if skip_kernels:
            from softcap_course.memory import skip_triton_kernels

            skipping = skip_triton_kernels()  # held: a context manager left to the garbage collector would undo it
            skipping.__enter__()  # for the rest of this process's short life
        signal.signal(signal.SIGALRM, lambda signum, frame: (_ for _ in ()).throw(TimeoutError("the call ran past "
                                                                                               "the time limit")))
        signal.setitimer(signal.ITIMER_REAL, float(timeout))
        import torch

        result = namespace[name](*args, **kwargs)
        if not isinstance(result, torch.Tensor) or not result.requires_grad:
            raise TypeError(f"{name} returned {type(result).__name__} without a gradient: expected a loss tensor")
        custom = _custom_nodes(result)
        result.backward(torch.ones_like(result))
        signal.setitimer(signal.ITIMER_REAL, 0)
        out.write(json.dumps({"shape": list(result.shape), "dtype": str(result.dtype).replace("torch.", ""),
                              "custom": custom}))
    except BaseException as error:  # noqa: BLE001 (the student's code may raise anything)
        try:
            out.write(json.dumps(raised_reply(error)))
        except BaseException:  # noqa: BLE001
            pass
    finally:
        try:
            out.flush()
        finally:
            os._exit(0)


def _measure(namespace, request, parts, timeout, frames=()):
    from softcap_course.grading.worker import _arguments

    args, kwargs, _, _ = _arguments(request, frames)  # tensors built on the frames' bytes, not copies
    # The baseline: everything but the call (the arguments as leaves of a graph), in a child like the measured one.
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    baseline = _maxrss(os.wait4(pid, 0)[2])
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _measured_child(dict(namespace), parts, timeout, request["measure"], args, kwargs,
                        bool(request.get("skip_kernels")), write_fd)
    os.close(write_fd)
    data, deadline = b"", time.monotonic() + timeout * (len(parts) + 1) + 10
    while len(data) < 2**16 and time.monotonic() < deadline:
        if not select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            break
        chunk = os.read(read_fd, 4096)
        if not chunk:
            break
        data += chunk
    os.close(read_fd)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    peak = _maxrss(os.wait4(pid, 0)[2])
    _reap_all()
    try:
        reply = json.loads(data)
    except ValueError:
        return {"raised": "RuntimeError", "original": "RuntimeError",
                "message": "the measured call ran past the time limit or died without an answer"}
    if "raised" not in reply and "failed" not in reply:
        reply["peak"] = peak - baseline
    return reply


# Imported by the zygote before any measurement, when the notebook uses torch: modules that correct code loads lazily
# on its first call (torch.func, torch.utils.checkpoint and torch.compile pull in torch._dynamo and sympy, about 190 MB)
# would otherwise count as the student's memory.
PRELOADED = ("torch.func", "torch.utils.checkpoint", "torch._dynamo")


def _clean_scratch(also=()):
    """Remove what a child left in the zygote's /tmp and /dev/shm (and the folders ``also``), and every System V shared
    memory segment, message queue and semaphore set of its sandbox (they would outlive the child): the next child may
    be another student's. (Outside a sandbox they are the machine's: nothing is removed.)"""
    import shutil

    if not _IN_ITS_OWN_SANDBOX:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for kind in ("shm", "msg", "sem"):
        try:
            with open(f"/proc/sysvipc/{kind}") as table:
                identifiers = [int(line.split()[1]) for line in table.read().splitlines()[1:] if line.split()]
        except (OSError, ValueError, IndexError):
            continue
        for identifier in identifiers:  # IPC_RMID (0); the sandbox's namespace holds only its own children's
            if kind == "sem":
                libc.semctl(identifier, 0, 0)
            else:
                getattr(libc, f"{kind}ctl")(identifier, 0, None)
    for folder in ("/tmp", "/dev/shm", *also):
        for entry in os.listdir(folder) if os.path.isdir(folder) else []:
            path = os.path.join(folder, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass


def _read_exactly(stream, size):
    """``size`` bytes of ``stream`` in a fresh bytearray (the tensor built on it owns them)."""
    data = bytearray(size)
    view, got = memoryview(data), 0
    while got < size:
        count = stream.readinto(view[got:])
        if not count:
            raise EOFError(f"the request's frame ended after {got} of {size} bytes")
        got += count
    return data


def main():
    """The zygote: run the notebook's trusted cells, then measure calls until stdin closes. One zygote serves every
    submission of one notebook in one grading process: after each measurement nothing of the child is left (every
    process of the sandbox killed, /tmp and /dev/shm emptied), and the zygote itself never runs student code."""
    import importlib

    from softcap_course.grading.worker import _hello, _run_cells, _silence

    become_a_zygote()
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    requests = sys.stdin.buffer  # bytes: a request's line may be followed by raw frames (verification.Worker.ask)
    _hello(protocol)
    _silence()
    start = json.loads(requests.readline())
    global _IN_ITS_OWN_SANDBOX
    _IN_ITS_OWN_SANDBOX = start.get("sandboxed") is True
    namespace = {"__name__": "__main__", "display": lambda *a, **k: None}
    errors = _run_cells(start["trusted"], start.get("timeout", 60.0), namespace, set(range(len(start["trusted"]))))
    if "torch" in sys.modules:
        for module in PRELOADED:
            try:
                importlib.import_module(module)
            except Exception as error:  # noqa: BLE001
                errors.append(f"preloading {module}: {type(error).__name__}: {error}")
    protocol.write(json.dumps({"ready": True, "trusted_errors": errors}) + "\n")
    for line in iter(requests.readline, b""):
        request = json.loads(line)
        try:
            frames = [_read_exactly(requests, int(size)) for size in request.get("frames", [])]
            reply = _measure(namespace, request, request["student"], start.get("timeout", 60.0), frames)
            del frames
        except BaseException as error:  # noqa: BLE001 (a bug here must reach the grader as an error, not a score)
            reply = {"failed": f"{type(error).__name__}: {error}"}
        finally:
            _reap_all()
            _clean_scratch()
        protocol.write(json.dumps(reply) + "\n")


# ------------------------------------------------------------------------------------------------ the grader's side


class MemoryProbe:
    """A sandboxed zygote for one notebook's trusted cells: ``measure(request)`` -> the reply, with ``peak`` bytes."""

    def __init__(self, trusted, timeout=60.0, sandboxed=True):
        from softcap_course.grading.verification import Worker

        argv = [sys.executable, "-m", "softcap_course.grading.measure"]
        self.worker = Worker()
        self.worker.timeout = timeout
        # One thread: less noise in the figure (every thread of a numerical library has buffers of its own), and the
        # cores stay with the kernel and the verification running beside it. A fixed mmap threshold: every buffer of
        # 64 KiB or more is mapped on its own and returned to the system when freed, so the peak is what the code
        # held, not what the allocator's heap kept after many chunk-sized buffers came and went.
        environment = {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "MALLOC_MMAP_THRESHOLD_": 65536}
        command = (sandbox.command(argv, cwd="/tmp", environment=environment, scratch_bytes=MEASURE_SCRATCH_BYTES)
                   if sandboxed else argv)
        self.worker.start(command, sandboxed, {"trusted": trusted, "timeout": timeout, "sandboxed": sandboxed},
                          120.0 + timeout * (len(trusted) + 1))

    def measure(self, request, frames=()):
        reply = self.worker.ask(request, timeout=self.worker.timeout * 3 + 30.0, frames=frames)
        if "failed" in reply:
            raise GradingInfrastructureError(f"the memory measurement failed: {reply['failed']}")
        return reply

    def close(self):
        self.worker.close()


_probes = {}
_starter = None


def started_in_a_lasting_thread(start):
    """``start()``'s result, called from a thread that lives as long as this process: bubblewrap's --die-with-parent
    ends a sandbox when the *thread* that started it ends (a submission's verification thread ends with it)."""
    import queue
    import threading

    global _starter
    if _starter is None:
        jobs = queue.Queue()

        def serve():
            while True:
                job, answer = jobs.get()
                try:
                    answer.put(job())
                except BaseException as error:  # noqa: BLE001 (handed to the caller)
                    answer.put(error)

        threading.Thread(target=serve, name="softcap-sandbox-starter", daemon=True).start()
        _starter = jobs
    answer = queue.Queue()
    _starter.put((start, answer))
    result = answer.get()
    if isinstance(result, BaseException):
        raise result
    return result


def probe_for(trusted, timeout=60.0, sandboxed=True):
    """The zygote of these trusted cells in this process, started on first use (in a lasting thread)."""
    key = (json.dumps(trusted), timeout, sandboxed)
    probe = _probes.get(key)
    if probe is not None and probe.worker.process.poll() is None:
        return probe
    _probes[key] = started_in_a_lasting_thread(lambda: MemoryProbe(trusted, timeout=timeout, sandboxed=sandboxed))
    return _probes[key]


def forget(probe):
    """Close a probe that failed (a fresh one is started next time)."""
    probe.close()
    for key, known in list(_probes.items()):
        if known is probe:
            del _probes[key]


if __name__ == "__main__":
    main()
