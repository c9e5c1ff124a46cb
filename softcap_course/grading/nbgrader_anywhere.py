# nbgrader's configuration for this environment, wherever nbgrader runs: the course's Makefile copies this file to the
# environment's etc/jupyter/nbgrader_config.py, which nbgrader reads before the current folder's own
# nbgrader_config.py. In a folder inside the course but below its root (notebooks/01-softmax, say), an instructor
# command would make an empty gradebook.db and course folders there: it refuses, and names the root.
import sys
from pathlib import Path

_STUDENT_COMMANDS = {"validate", "fetch_assignment", "fetch_feedback", "submit", "list", "help"}


def _course_root_above(folder):
    """The nearest folder above ``folder`` that is a course root (nbgrader_config.py, solutions/, notebooks/)."""
    for parent in folder.parents:
        if (parent / "nbgrader_config.py").is_file() and (parent / "solutions").is_dir() \
                and (parent / "notebooks").is_dir():
            return parent
    return None


def _refusal(argv, cwd):
    """The message refusing this nbgrader command run in ``cwd``, or None when it may run."""
    if not argv or (Path(argv[0]).name != "nbgrader" and not argv[0].endswith("nbgrader/__main__.py")):
        return None  # Jupyter's server, its formgrader: not the command line
    command = next((a for a in argv[1:] if not a.startswith("-")), None)
    if command is None or command in _STUDENT_COMMANDS or (cwd / "nbgrader_config.py").is_file():
        return None  # help, a student's command, or a folder with a configuration of its own (a course root)
    root = _course_root_above(cwd)
    if root is None:
        return None
    return f"nbgrader runs from the course root, {root}, not from this folder: cd {root} and run the command again"


_message = _refusal(sys.argv, Path.cwd().resolve())
if _message:
    sys.exit(_message)
