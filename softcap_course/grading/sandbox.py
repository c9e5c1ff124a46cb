"""The sandbox every process that runs student code lives in while grading: bubblewrap (Debian's ``bubblewrap``).

Inside, a process sees a read-only Python (this environment, its base interpreter and the course's helper package),
the system's libraries, and only the paths the caller names. No ``solutions/``, no other submission, no gradebook, no
home folder, no network (a private network namespace with nothing in it), a private process namespace (everything it
starts dies with it), its own user namespace with no capabilities and no way to make another one, and a clean
environment (no ``NBGRADER_DB_URL`` or other secrets).

What it may write is bounded: ``/tmp`` and ``/dev/shm`` are tmpfs of ``SCRATCH_BYTES`` each, a kernel's working folder
is a tmpfs of the same size holding copies of the submission's files (nothing reaches the real disk), every
other path is read-only (``/`` and ``/dev`` included), and no file may grow past ``FILE_BYTES`` (``RLIMIT_FSIZE``). ``/proc``
is read-only too, so no process can reset the peak of its own resident memory (``/proc/self/clear_refs``) that the
memory test reads from the operating system. The memory cap of ``nbgrader_config.py`` and nbgrader's time and output
limits still apply: they are inherited or enforced from outside.

Jupyter kernels normally talk over TCP on 127.0.0.1, which a process in its own network namespace cannot share
with nbgrader; grading kernels use Jupyter's ``ipc`` transport (Unix sockets). The kernel binds its sockets in a
folder of its own sandbox (a small tmpfs), and nbgrader reaches each one through a link in its sockets folder to
``/proc/<sandbox>/root/...``: the kernel can write nothing into a folder outside the sandbox.

The ``softcap-sandbox`` kernel spec that ``nbgrader_config.py`` installs and selects while autograding names the kernel
provisioner of ``softcap_course.grading.kernel_zygote``: each grading process forks its kernels from one warm sandbox,
which dies with it (bubblewrap's ``--die-with-parent``), so no kernel outlives its grader. ``python -m
softcap_course.grading.sandbox check`` says whether the sandbox can start on this machine, importing in it exactly
what grading imports.
"""

import functools
import glob
import json
import os
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # the whole softcap_course package
KERNEL_NAME = "softcap-sandbox"
ALLOW_UNSANDBOXED = "NBGRADER_ALLOW_UNSANDBOXED"
# What a sandboxed process keeps of the grader's environment: locale, thread and BLAS settings (some machines need
# OPENBLAS_CORETYPE for right answers), nbgrader's marker, device selection. Nothing else gets in.
PASSED_ENVIRONMENT = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS",
                      "MKL_NUM_THREADS", "NBGRADER_EXECUTION", "CUDA_VISIBLE_DEVICES", "TRITON_INTERPRET", "MPLBACKEND")
# The space a sandboxed process may write in: each of /tmp, /dev/shm and a kernel's working folder (memory-backed),
# and the largest file it may write anywhere. NBGRADER_SANDBOX_SCRATCH_MIB overrides both.
SCRATCH_BYTES = int(float(os.environ.get("NBGRADER_SANDBOX_SCRATCH_MIB", "256")) * 2**20)
FILE_BYTES = SCRATCH_BYTES
SOCKETS_BYTES = 2**20  # the kernel's sockets folder holds five sockets
_SYSTEM = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
_ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/fonts",
        "/etc/localtime", "/etc/mime.types", "/etc/matplotlibrc")
# What grading imports inside the sandbox: a kernel (ipykernel), the verification worker, the checks of the tests.
GRADING_IMPORTS = ("numpy", "ipykernel.kernelapp", "softcap_course.grading.worker", "softcap_course.checks")


def _python_roots():
    """The read-only Python the sandbox needs: this environment, its base interpreter, the helper package."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parents[1],
             PACKAGE}
    # Keep the outermost of nested roots (binding a folder inside a bound folder is harmless, but pointless).
    return sorted(r for r in roots if not any(o != r and o in r.parents for o in roots))


def command(argv, *, writable=(), readable=(), scratch=None, private=(), workspace=None, cwd=None, info_fd=None,
            environment=None, scratch_bytes=None):
    """The bubblewrap command line that runs ``argv`` in the sandbox.

    ``writable``: folders bound read-write (only for tests of the sandbox itself); ``readable``: paths bound read-only;
    ``scratch``: a folder shown as a size-limited tmpfs holding read-only copies of its entries (a kernel's working
    folder: it may write there, nothing reaches the disk); ``private``: folders that exist only inside, as small
    tmpfs (a kernel's sockets); ``workspace``: a folder shown as an empty size-limited tmpfs (the kernel zygote's
    working folders, where each kernel gets a copy of its submission's files); ``info_fd``: bubblewrap writes
    ``{"child-pid": ...}`` there once the sandbox runs; ``environment``: variables set inside, after those passed from here; ``scratch_bytes``: the size of ``/tmp``,
    ``/dev/shm`` and ``scratch`` (``SCRATCH_BYTES`` by default).
    """
    size = str(SCRATCH_BYTES if scratch_bytes is None else scratch_bytes)
    args = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"]
    if os.geteuid() == 0:  # run by root, bubblewrap would keep every capability inside: drop them all
        args += ["--cap-drop", "ALL"]
    if info_fd is not None:
        args += ["--info-fd", str(info_fd)]
    # The private file systems first: a path bound below (a course in /tmp, say) must not be hidden by them.
    args += ["--proc", "/proc", "--dev", "/dev"]
    for device in sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri/*")):  # a GPU, where there is one
        args += ["--dev-bind", device, device]
    args += ["--size", size, "--tmpfs", "/dev/shm", "--size", size, "--tmpfs", "/tmp"]
    for path in _SYSTEM:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in _ETC:
        args += ["--ro-bind-try", path, path]
    for root in _python_roots():
        args += ["--ro-bind", str(root), str(root)]
    for path in readable:
        args += ["--ro-bind", str(path), str(path)]
    if scratch is not None:
        scratch = Path(scratch)
        args += ["--size", size, "--tmpfs", str(scratch)]
        for entry in sorted(scratch.iterdir()):
            args += ["--ro-bind", str(entry), str(entry)]
    for path in private:
        args += ["--size", str(SOCKETS_BYTES), "--tmpfs", str(path)]
    if workspace is not None:
        args += ["--size", size, "--tmpfs", str(workspace)]
    for path in writable:
        args += ["--bind", str(path), str(path)]
    # Everything else read-only: /proc (no resetting the peak memory the grader reads), /dev, and the root itself.
    args += ["--remount-ro", "/proc", "--remount-ro", "/dev", "--remount-ro", "/"]
    args += ["--clearenv", "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
             "--setenv", "PATH", f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
             # The helper package the grader itself runs, whatever an environment's own install points to.
             "--setenv", "PYTHONPATH", str(PACKAGE.parent)]
    for name in PASSED_ENVIRONMENT:
        if name in os.environ:
            args += ["--setenv", name, os.environ[name]]
    for name, value in (environment or {}).items():
        args += ["--setenv", name, str(value)]
    if cwd is not None:
        args += ["--chdir", str(cwd)]
    return args + ["--", *map(str, argv)]


def limit_files():
    """In the process that starts bubblewrap (inherited by the sandbox): no file larger than ``FILE_BYTES``, no core
    dumps. (Python ignores SIGXFSZ: a write past the limit raises ``OSError: File too large``.)"""
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def children():
    """The pids of this process's children, read from /proc."""
    mine, found = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            ppid = int(text[text.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == mine:
            found.append(int(stat.parent.name))
    return found


@functools.lru_cache(maxsize=1)
def problem():
    """None when the sandbox starts here and imports what grading imports, from the same helper package; else why not
    (no bwrap, no user namespaces, a package that the sandbox does not show, ...)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (`bwrap`) is not installed: `apt-get install bubblewrap`"
    from importlib.metadata import entry_points

    from softcap_course.grading import kernel_zygote

    wanted = f"{kernel_zygote.__name__}:{kernel_zygote.ZygoteProvisioner.__name__}"
    if not any(e.name == kernel_zygote.PROVISIONER and e.value == wanted
               for e in entry_points(group="jupyter_client.kernel_provisioners")):
        return (f"the grading kernels' provisioner ({kernel_zygote.PROVISIONER}) is not installed in this environment: "
                "run `make` again (it installs the course's package, `pip install -e .`)")
    check = (f"import {', '.join(GRADING_IMPORTS)}, softcap_course, pathlib; "
             "print(pathlib.Path(softcap_course.__file__).resolve().parent)")
    try:
        result = subprocess.run(command([sys.executable, "-c", check], cwd="/tmp"), capture_output=True, text=True,
                                timeout=120, preexec_fn=limit_files)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap did not start: {error}"
    if result.returncode != 0:
        return f"the sandbox cannot run what grading runs (exit {result.returncode}): {condensed(result.stderr)}"
    seen = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "?"
    if seen != str(PACKAGE):
        return f"the sandbox imports the helper package from {seen}, the grader from {PACKAGE}"
    return None


def grader_folder(pid):
    """``/tmp/softcap-grading-<pid>``: what one grading process keeps for its kernels (their spec, their sockets).
    Its owner removes it when it ends; ``make grade`` removes it for a grading process that was killed."""
    folder = Path(tempfile.gettempdir()) / f"softcap-grading-{pid}"
    (folder / "sockets").mkdir(parents=True, exist_ok=True)
    return folder


def condensed(error_output, keep=4):
    """A process's error output on one line: a fatal error's first line (Python says what went wrong there) and the
    last lines (a traceback's exception)."""
    lines = [line.strip() for line in error_output.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith("Fatal Python error")][:1]
    tail = [line for line in lines[-keep:] if line not in fatal]
    return " | ".join(fatal + tail)[:800] or "(no error output)"


def kernel_spec_dir(folder):
    """``folder`` with the ``softcap-sandbox`` kernel spec in it (for JUPYTER_PATH): its kernels are forked by this
    grading process's kernel zygote (``softcap_course.grading.kernel_zygote``, through its kernel provisioner)."""
    from softcap_course.grading import kernel_zygote

    # The command is never run: the provisioner forks the kernel. Run by anything else, it refuses.
    spec = {"argv": [sys.executable, "-m", "softcap_course.grading.kernel_zygote", "unprovisioned", "-f",
                     "{connection_file}"],
            "display_name": "Python 3 (sandboxed for grading)", "language": "python",
            # An interrupt travels as a message: a signal would have to pass through the zygote.
            "interrupt_mode": "message",
            "metadata": {"kernel_provisioner": {"provisioner_name": kernel_zygote.PROVISIONER}}}
    path = Path(folder) / "kernels" / KERNEL_NAME / "kernel.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(spec, indent=1))
    return Path(folder)


def _read_child_pid(fd, timeout=60.0):
    """The sandbox's pid, from bubblewrap's ``--info-fd``."""
    data, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
        try:
            return int(json.loads(data)["child-pid"])
        except ValueError:
            continue
    raise RuntimeError(f"bubblewrap did not report its sandbox's pid (got {data[:200]!r})")


def _link(path, target):
    temporary = f"{path}.{os.getpid()}.link"
    os.symlink(target, temporary)
    os.replace(temporary, path)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check"]:
        reason = problem()
        print("the grading sandbox works" if reason is None else f"the grading sandbox cannot start: {reason}")
        sys.exit(0 if reason is None else 1)
    else:
        sys.exit("usage: python -m softcap_course.grading.sandbox check")


if __name__ == "__main__":
    main()
