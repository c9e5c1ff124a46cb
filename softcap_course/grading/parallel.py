"""What lets several nbgrader processes grade one course at once (``make grade --jobs N``).

nbgrader grades the submissions of one command one after another. ``softcap_course.grading.instructor`` starts N of its
commands side by side, each on its own share of the class, and two things make that safe:

* ``grade_only(students)``: a command started for a share grades exactly those students and skips every other
  folder, including one that appears in ``submitted/`` while the round runs (a list of exclusions, nbgrader's own
  option, would let such a folder be graded by every worker at once).
* ``serialise_sqlite_gradebooks()``: SQLite lets one process write at a time, and two processes that have both
  read and then both want to write get "database is locked" at once (SQLite refuses to wait where waiting could
  deadlock). So every gradebook session (nbgrader's ``Gradebook``, from opening to ``close``) takes an exclusive lock
  on ``<gradebook>.lock`` beside the database file. The sessions last milliseconds, since nbgrader runs a notebook
  with no gradebook open, so the notebooks still run in parallel. A database server (PostgreSQL) needs no lock:
  each worker has its own connection and the server keeps the transactions apart.

Both are applied by the course's ``nbgrader_config.py`` in the processes that need them.
"""

import fcntl
import json
import os
import threading
from pathlib import Path

STUDENTS_VARIABLE = "SOFTCAP_GRADE_STUDENTS"  # a JSON list of ids: the share of the class of one worker

_held = {}  # lock file -> [open file, sessions of this process holding it]
_guard = threading.Lock()


def sqlite_lock_path(db_url):
    """``<database>.lock`` for a SQLite URL of a file; None for a server or an in-memory database."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).resolve().with_name(Path(url.database).name + ".lock")


def _acquire(path):
    with _guard:
        entry = _held.get(path)
        if entry is not None:  # a session inside a session of this process: it holds the lock already
            entry[1] += 1
            return path
    handle = open(path, "a")
    fcntl.flock(handle, fcntl.LOCK_EX)  # waits for the other processes' sessions; the OS frees it if one dies
    with _guard:
        _held[path] = [handle, 1]
    return path


def _release(path):
    with _guard:
        entry = _held[path]
        entry[1] -= 1
        if entry[1]:
            return
        del _held[path]
    fcntl.flock(entry[0], fcntl.LOCK_UN)
    entry[0].close()


def serialise_sqlite_gradebooks():
    """Make every nbgrader ``Gradebook`` session on a SQLite file in this process hold the file's lock."""
    from nbgrader import api

    if getattr(api.Gradebook, "_serialised_by_softcap", False):
        return
    opening, closing = api.Gradebook.__init__, api.Gradebook.close

    def __init__(self, db_url, *args, **kwargs):
        path = sqlite_lock_path(db_url)
        self._softcap_lock = _acquire(path) if path else None
        try:
            opening(self, db_url, *args, **kwargs)
        except BaseException:
            if self._softcap_lock:
                _release(self._softcap_lock)
                self._softcap_lock = None
            raise

    def close(self):
        try:
            closing(self)
        finally:
            path = self.__dict__.pop("_softcap_lock", None)
            if path:
                _release(path)

    api.Gradebook.__init__, api.Gradebook.close = __init__, close
    api.Gradebook._serialised_by_softcap = True


def grade_only(students):
    """Make nbgrader's converters (autograde, generate_feedback) in this process handle only ``students``."""
    from nbgrader.converters.base import BaseConverter

    allowed = frozenset(students)
    deciding = getattr(BaseConverter.init_destination, "_softcap_original", BaseConverter.init_destination)

    def init_destination(self, assignment_id, student_id):
        return student_id in allowed and deciding(self, assignment_id, student_id)

    init_destination._softcap_original = deciding
    BaseConverter.init_destination = init_destination


def students_from_environment():
    """The share named by ``SOFTCAP_GRADE_STUDENTS`` (set by ``make grade`` for its workers), or None."""
    value = os.environ.get(STUDENTS_VARIABLE)
    return None if value is None else json.loads(value)


def shares(students, jobs):
    """``students`` dealt round-robin into at most ``jobs`` non-empty shares (neighbours in the list run apart)."""
    return [share for share in (list(students)[k::jobs] for k in range(max(1, jobs))) if share]
