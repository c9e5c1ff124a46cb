"""Grading kernels forked from a warm sandbox: the imports once per grading process, not once per submission.

A new sandbox per submission would cost bubblewrap, a Python, ipykernel and the notebook's import cell each time
(PyTorch: about 2 s of CPU for chapters 6-8). Each nbgrader process keeps one *kernel zygote* instead: a sandboxed
Python that imported ipykernel and ran the notebook's (restored, instructor's) import cells, runs no student code,
and forks one kernel per submission, one at a time. Each kernel runs the notebook from its first cell, as a fresh one
would; the import cell finds its modules loaded.

What a forked kernel sees is what a fresh sandbox showed: its submission's files in a memory-backed working folder
at the same path, an empty ``/tmp`` and ``/dev/shm``, no other process but its own descendants, its sandbox's parent
(the zygote, which it can neither trace nor read: not dumpable) and the sandbox's init. The zygote never holds a
submission's files or its kernel's key: the grader puts them in an *inbox* folder that the sandbox sees read-only,
and the forked child reads them there. So nothing of a classmate's is in the memory a child inherits. When the
grader ends a kernel, the zygote kills and reaps every other process of its sandbox and empties ``/tmp``,
``/dev/shm``, the sockets' folder, the working folders and the System V IPC objects before it forks the next one.

A child that kills the zygote ends its own sandbox, and with it only its own grading; the grader starts another zygote
for the next submission. The zygote's sandbox dies with the grading process (bubblewrap's ``--die-with-parent``,
started from a thread that lives as long as the process).

The grader's side is a Jupyter kernel provisioner (``ZygoteProvisioner``, the ``softcap-zygote`` entry point that the
``softcap-sandbox`` kernel spec names): nbgrader starts, polls, signals and kills a kernel as it would a process.
"""

import json
import os
import select
import shutil
import signal
import sys
import time
from pathlib import Path

from softcap_course.grading import sandbox

PROVISIONER = "softcap-zygote"  # the entry point (pyproject.toml) that the kernel spec names
# Imported by every zygote, whatever the notebook: a kernel, the tests' checks.
BASE_IMPORTS = ("numpy", "ipykernel.kernelapp", "softcap_course.checks")
INBOX_LAUNCH = "launch.json"  # the kernel's connection, working folder and arguments, in the inbox
INBOX_FILES = "files"  # a copy of the submission's folder, in the inbox


# ------------------------------------------------------------------------------------------------ the sandbox's side


def _say(protocol, message):
    protocol.write(json.dumps(message) + "\n")


def main():
    """The zygote, in its sandbox: the imports, then a kernel forked per ``launch``, all of it gone at ``end``."""
    from softcap_course.grading import measure, worker

    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    worker._hello(protocol)
    start = json.loads(sys.stdin.readline())
    # Until here an error went to the grader, which says why the sandbox could not start. From now on what anything
    # prints, here or in a kernel, goes to the grader's own error output (passed as log_fd), never into the protocol.
    os.dup2(start["log_fd"], 2)
    os.close(start["log_fd"])
    os.dup2(2, 1)
    # What ipykernel sets before any cell runs: a plotting library imported here draws as it would in a fresh kernel.
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    for name in BASE_IMPORTS:
        __import__(name)
    # The notebook's trusted cells, as the verification's zygote runs them: what they import, and what they set before
    # importing it (chapter 7 chooses Triton's interpreter before `import triton`), is then already done in every
    # kernel, which runs the same cells again. What they print goes nowhere; an error is the grader's (as there).
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        failed = worker._run_cells(start["trusted"], start["timeout"], {"__name__": "__main__",
                                                                         "display": lambda *a, **k: None},
                                   set(range(len(start["trusted"]))))
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the cells' alarm is not the kernels'
    measure.become_a_zygote()
    measure._IN_ITS_OWN_SANDBOX = True
    _say(protocol, {"ready": True, "trusted_errors": failed})
    _serve(start, protocol, worker._Lines(0))


def _serve(start, protocol, requests):
    from softcap_course.grading import measure

    kernel = watch = None
    while True:
        ready = [0] if requests.pending() else select.select([0] + ([watch] if watch is not None else []), [], [])[0]
        if watch is not None and watch in ready:
            try:
                _, status = os.waitpid(kernel, 0)
                _say(protocol, {"exited": os.waitstatus_to_exitcode(status)})
            except ChildProcessError:
                _say(protocol, {"exited": -signal.SIGKILL})
            os.close(watch)
            watch = None
            continue
        line = requests.line()
        if line is None:  # the grader is gone: so is this sandbox
            return
        request = json.loads(line)
        if request.get("launch"):
            if watch is not None:
                _say(protocol, {"refused": "a kernel is still running"})
                continue
            kernel = os.fork()
            if kernel == 0:
                _kernel(start)  # never returns
            watch = os.pidfd_open(kernel)
            _say(protocol, {"launched": kernel})
        elif "signal" in request:
            if watch is not None:
                try:
                    os.kill(kernel, int(request["signal"]))
                except OSError:
                    pass
        elif request.get("end"):
            if watch is not None:
                os.close(watch)
                watch = None
            measure._reap_all()
            measure._clean_scratch(also=(start["workspace"], start["sockets"]))
            _say(protocol, {"ended": True})


def _kernel(start):
    """The forked kernel: read its launch from the inbox, copy its files into its working folder, run ipykernel."""
    code = 1
    try:
        import ctypes

        os.setsid()
        ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE 1: a kernel is an ordinary process again
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the zygote's requests and replies are never the kernel's
        inbox = Path(start["inbox"])
        launch = json.loads((inbox / INBOX_LAUNCH).read_text())
        cwd = Path(launch["cwd"])
        if not cwd.is_relative_to(start["workspace"]):
            raise RuntimeError(f"{cwd} is outside the zygote's working folders {start['workspace']}")
        shutil.copytree(inbox / INBOX_FILES, cwd, symlinks=True, dirs_exist_ok=True)
        connection = Path("/tmp") / "kernel-connection.json"
        connection.write_text(json.dumps(launch["connection"]))
        os.chdir(cwd)
        sys.argv = ["ipykernel_launcher", "-f", str(connection), *launch["arguments"]]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # noqa: BLE001 (say why, as a kernel that failed to start would)
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


# ------------------------------------------------------------------------------------------------ the grader's side

_trusted = []  # the trusted cells of the notebook being graded (StartVerification says them)
_graded = {}  # its student and notebook


def expect_trusted_cells(sources, student="?", notebook="?"):
    """Record the trusted cells of ``student``'s ``notebook``, the one graded next (the instructor's locked cells before
    any cell a student could edit: its imports): a zygote started for its kernels runs them before it forks any."""
    _trusted[:] = list(sources)
    _graded.update(student=student, notebook=notebook)


class KernelZygote:
    """The grader's handle on one zygote: ``launch`` a kernel, ``signal`` it, ``poll`` it, ``end`` it."""

    def __init__(self, trusted, workspace, folder, timeout=60.0):
        from softcap_course.grading.verification import Worker

        self.inbox, self.sockets, self.workspace = folder / "inbox", folder / "sockets", Path(workspace)
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.trusted = trusted
        self.exit_code = None  # of the current kernel, once it exited
        self.active = False  # a kernel was forked and not yet ended
        self.links = []
        argv = [sys.executable, "-m", "softcap_course.grading.kernel_zygote"]
        info_read, info_write = os.pipe()
        log_fd = os.dup(2)
        command = sandbox.command(argv, readable=[self.inbox], private=[self.sockets], workspace=self.workspace,
                                  cwd="/", info_fd=info_write)
        self.worker = Worker()
        try:
            # Its trusted cells are the verification's: where they fail, grading itself is broken, as there.
            self.worker.start(command, True, {"trusted": trusted, "timeout": timeout, "inbox": str(self.inbox),
                                              "sockets": str(self.sockets), "workspace": str(self.workspace),
                                              "log_fd": log_fd},
                              120.0 + timeout * len(trusted), pass_fds=[info_write, log_fd])
            self.sandbox_pid = sandbox._read_child_pid(info_read)
        except BaseException:
            if getattr(self.worker, "process", None) is not None:
                self.worker.close()
            raise
        finally:
            for fd in (info_read, info_write, log_fd):
                os.close(fd)

    def alive(self):
        return self.worker.process.poll() is None

    def launch(self, connection, cwd, arguments):
        """Fork a kernel for ``connection`` (its ipc sockets are linked for this process) in a copy of ``cwd``."""
        if self.active and not self.end():
            raise RuntimeError("the kernel zygote could not end its last kernel")
        shutil.rmtree(self.inbox / INBOX_FILES, ignore_errors=True)
        shutil.copytree(cwd, self.inbox / INBOX_FILES, symlinks=True)
        launch = self.inbox / INBOX_LAUNCH
        launch.touch(mode=0o600)
        launch.write_text(json.dumps({"connection": connection, "cwd": str(cwd), "arguments": list(arguments)}))
        self.exit_code, self.active = None, True
        reply = self.worker.ask({"launch": True}, timeout=60.0)
        if "launched" not in reply:
            raise RuntimeError(f"the kernel zygote did not fork a kernel: {reply}")
        ip = Path(connection["ip"])
        for name in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"):
            path = f"{ip}-{connection[name]}"
            sandbox._link(path, f"/proc/{self.sandbox_pid}/root{path}")
            self.links.append(path)

    def poll(self):
        """The kernel's exit code once it exited (or the zygote died), else None; never waits."""
        if self.exit_code is None:
            if not self.alive():
                self.exit_code = -signal.SIGKILL
            else:
                fd = self.worker.process.stdout.fileno()
                while b"\n" in self.worker.pending or select.select([fd], [], [], 0)[0]:
                    try:
                        message = self.worker.read(5.0)
                    except Exception:  # noqa: BLE001 (a zygote that died or spoke nonsense: the kernel is gone)
                        self.exit_code = -signal.SIGKILL
                        break
                    if "exited" in message:
                        self.exit_code = message["exited"]
                        break
        return self.exit_code

    def signal(self, signum):
        if self.alive() and self.poll() is None:
            try:
                self.worker.process.stdin.write(json.dumps({"signal": int(signum)}) + "\n")
                self.worker.process.stdin.flush()
            except OSError:
                pass

    def end(self):
        """Kill what is left of the kernel and clean the sandbox for the next; False (and the zygote closed) when it
        did not say it was done within 30 s."""
        for path in self.links:
            Path(path).unlink(missing_ok=True)
        self.links, self.active = [], False
        if not self.alive():
            return False
        try:
            self.worker.process.stdin.write(json.dumps({"end": True}) + "\n")
            self.worker.process.stdin.flush()
            deadline = time.monotonic() + 30.0
            while True:
                message = self.worker.read(max(0.0, deadline - time.monotonic()))
                if message.get("ended"):
                    return True
        except Exception:  # noqa: BLE001 (stopped or dead: the next kernel gets a new zygote)
            self.close()
            return False

    def close(self):
        self.worker.close()


_zygote = None


def zygote_for(cwd):
    """This process's zygote, started on first use (again when the trusted cells or working folders changed, or it
    died)."""
    global _zygote
    from softcap_course.grading import measure

    cwd = Path(cwd).resolve()
    workspace = cwd.parents[1] if len(cwd.parents) > 2 else cwd
    trusted = list(_trusted)
    kept = _zygote
    if kept is not None and kept.alive() and kept.trusted == trusted and cwd.is_relative_to(kept.workspace):
        return kept
    if kept is not None:
        kept.close()
    folder = sandbox.grader_folder(os.getpid())
    _zygote = measure.started_in_a_lasting_thread(lambda: KernelZygote(trusted, workspace, folder))
    return _zygote


try:
    from jupyter_client.provisioning import LocalProvisioner
except ImportError:  # the sandbox's zygote does not need it
    LocalProvisioner = object


class ZygoteProvisioner(LocalProvisioner):
    """A kernel forked by this process's zygote, seen by Jupyter as a process: launched, polled, signalled, killed."""

    zygote = None

    @property
    def has_process(self):
        return self.zygote is not None

    async def launch_kernel(self, cmd, **kwargs):
        arguments = list(cmd[cmd.index("-f") + 2:]) if "-f" in cmd else []
        cwd = Path(kwargs.get("cwd") or os.getcwd()).resolve()
        if self.connection_info.get("transport") != "ipc":
            raise RuntimeError("the grading kernel must use the ipc transport: nbgrader_config.py sets it")
        connection = {key: (value.decode() if isinstance(value, bytes) else value)
                      for key, value in self.connection_info.items()}
        try:
            zygote = zygote_for(cwd)
            zygote.launch(connection, cwd, arguments)
        except Exception as error:
            # Grading itself failed, not the student's code: the round leaves the submission ungraded and says why
            # (the line that softcap_course.grading.instructor reads, as for a verification that failed).
            cause = " | ".join(line.strip() for line in str(error).splitlines() if line.strip())[:800]
            self.log.error("grading infrastructure failure: %s, %s: %s", _graded.get("student", "?"),
                           _graded.get("notebook", "?"), cause or type(error).__name__)
            raise
        self.zygote, self.cwd, self.pid = zygote, cwd, None
        return self.connection_info

    async def poll(self):
        return 0 if self.zygote is None else self.zygote.poll()

    async def wait(self):
        import asyncio

        while self.zygote is not None and self.zygote.poll() is None:
            await asyncio.sleep(0.05)
        return 0 if self.zygote is None else self.zygote.poll()

    async def send_signal(self, signum):
        if self.zygote is not None:
            self.zygote.signal(signum)

    async def kill(self, restart=False):
        await self.send_signal(signal.SIGKILL)

    async def terminate(self, restart=False):
        await self.send_signal(signal.SIGTERM)

    async def cleanup(self, restart=False):
        if self.zygote is not None:
            self.zygote.end()
            self.zygote = None
        await super().cleanup(restart=restart)


if __name__ == "__main__":
    if sys.argv[1:]:  # the kernel spec's own command: a kernel is never started without the zygote's sandbox
        sys.exit("softcap-sandbox: a grading kernel is forked by the kernel zygote (its Jupyter kernel provisioner, "
                 f"{PROVISIONER!r}), never started on its own")
    main()
