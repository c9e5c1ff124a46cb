"""The sandbox every process that runs student code lives in while grading: bubblewrap (Debian's ``bubblewrap``).

Inside, a process sees a read-only Python (this environment, its base interpreter and the course's helper package),
the system's libraries, a private ``/tmp``, and only the paths the caller names: for a grading kernel, its own
submission's folder and the two things it must reach to talk to nbgrader (its connection file, and the folder of
its Unix sockets). No ``solutions/``, no other submission, no gradebook, no home folder, no network (a private
network namespace with nothing in it), a private process namespace (everything it starts dies with it), and a
clean environment (no ``NBGRADER_DB_URL`` or other secrets). The memory cap of ``nbgrader_config.py`` and nbgrader's
time and output limits still apply: they are inherited or enforced from outside.

Jupyter kernels normally talk over TCP on 127.0.0.1, which a process in its own network namespace cannot share
with nbgrader; so grading kernels use Jupyter's ``ipc`` transport (Unix sockets in a folder both sides see).

``python -m softcap_course.grading.sandbox kernel -f CONNECTION_FILE`` is the kernel command of the ``softcap-sandbox``
kernel spec that ``nbgrader_config.py`` installs and selects while autograding; ``python -m softcap_course.grading.sandbox
check`` says whether the sandbox can start on this machine.
"""

import functools
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # the whole softcap_course package
KERNEL_NAME = "softcap-sandbox"
ALLOW_UNSANDBOXED = "NBGRADER_ALLOW_UNSANDBOXED"
# What a sandboxed process keeps of the grader's environment: locale, thread and BLAS settings (some machines need
# OPENBLAS_CORETYPE for right answers), nbgrader's marker, device selection. Nothing else gets in.
PASSED_ENVIRONMENT = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS",
                      "MKL_NUM_THREADS", "NBGRADER_EXECUTION", "CUDA_VISIBLE_DEVICES", "TRITON_INTERPRET", "MPLBACKEND")
_SYSTEM = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
_ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/fonts",
        "/etc/localtime", "/etc/mime.types", "/etc/matplotlibrc")


def _python_roots():
    """The read-only Python the sandbox needs: this environment, its base interpreter, the helper package."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parents[1],
             PACKAGE}
    # Keep the outermost of nested roots (binding a folder inside a bound folder is harmless, but pointless).
    return sorted(r for r in roots if not any(o != r and o in r.parents for o in roots))


def command(argv, *, writable=(), readable=(), cwd=None):
    """The bubblewrap command line that runs ``argv`` in the sandbox."""
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in _SYSTEM:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in _ETC:
        args += ["--ro-bind-try", path, path]
    for root in _python_roots():
        args += ["--ro-bind", str(root), str(root)]
    for device in sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri/*")):  # a GPU, where there is one
        args += ["--dev-bind", device, device]
    for path in readable:
        args += ["--ro-bind", str(path), str(path)]
    for path in writable:
        args += ["--bind", str(path), str(path)]
    args += ["--clearenv", "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
             "--setenv", "PATH", f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"]
    for name in PASSED_ENVIRONMENT:
        if name in os.environ:
            args += ["--setenv", name, os.environ[name]]
    if cwd is not None:
        args += ["--chdir", str(cwd)]
    return args + ["--", *map(str, argv)]


@functools.lru_cache(maxsize=1)
def problem():
    """None when the sandbox starts here, else why it does not (no bwrap, no user namespaces, ...)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (`bwrap`) is not installed: `apt-get install bubblewrap`"
    try:
        result = subprocess.run(command([sys.executable, "-c", "import numpy"]), capture_output=True, text=True,
                                timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap did not start: {error}"
    if result.returncode != 0:
        return f"bubblewrap cannot start a sandbox here (exit {result.returncode}): {result.stderr.strip()[-300:]}"
    return None


def kernel_spec_dir():
    """A folder holding the ``softcap-sandbox`` kernel spec (for JUPYTER_PATH), written for this Python."""
    folder = Path(tempfile.gettempdir()) / f"softcap-kernelspec-{os.getuid()}-{abs(hash(sys.executable)) % 10**8}"
    spec = {"argv": [sys.executable, "-m", "softcap_course.grading.sandbox", "kernel", "-f", "{connection_file}"],
            "display_name": "Python 3 (sandboxed for grading)", "language": "python",
            # An interrupt travels as a message: a signal to bubblewrap would not reach the kernel inside.
            "interrupt_mode": "message"}
    path = folder / "kernels" / KERNEL_NAME / "kernel.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(spec, indent=1)
    if not path.exists() or path.read_text() != text:
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(text)
        temporary.replace(path)
    return folder


def _kernel(arguments):
    """Replace this process by the sandboxed kernel (the kernel spec's command)."""
    connection_file = Path(arguments[arguments.index("-f") + 1]).resolve()
    info = json.loads(connection_file.read_text())
    if info.get("transport") != "ipc":
        sys.exit(f"softcap-sandbox: the kernel must use the ipc transport (got {info.get('transport')!r}): "
                 "nbgrader_config.py sets KernelManager.transport")
    sockets = Path(info["ip"]).resolve().parent
    cwd = Path.cwd()
    argv = [sys.executable, "-m", "ipykernel_launcher", *arguments]
    os.execvp("bwrap", command(argv, writable=[cwd, sockets], readable=[connection_file], cwd=cwd))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["kernel"]:
        _kernel(argv[1:])
    elif argv[:1] == ["check"]:
        reason = problem()
        print("the grading sandbox works" if reason is None else f"the grading sandbox cannot start: {reason}")
        sys.exit(0 if reason is None else 1)
    else:
        sys.exit("usage: python -m softcap_course.grading.sandbox kernel -f CONNECTION_FILE | check")


if __name__ == "__main__":
    main()
