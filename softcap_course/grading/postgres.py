"""PostgreSQL servers of the course's own, with ``initdb`` and ``pg_ctl`` (no system service, no sudo):

    with throwaway_server() as url:      # tests and benchmark: postgresql+psycopg2://grader@/gradebook?host=.../socket
        ...

    python -m softcap_course.grading.postgres start FOLDER   # make postgres DIR=FOLDER: a lasting gradebook server
    python -m softcap_course.grading.postgres stop FOLDER

The server listens on a Unix socket in that folder and nowhere else (no TCP port, no system service, nothing left
behind): Debian's ``postgresql`` package provides the programs (``/usr/lib/postgresql/<version>/bin``). PostgreSQL
refuses to run as root, so under root the server runs as the package's ``postgres`` user.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SERVER_USER = "postgres"  # created by Debian's postgresql package
ROLE = "grader"
INSTALL_HINT = "install Debian's postgresql package (sudo apt-get install postgresql)"


def server_programs():
    """The folder with ``initdb`` and ``pg_ctl``: on PATH, else the newest /usr/lib/postgresql/*/bin; or None."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: float(p.parent.parent.name)
                   if p.parent.parent.name.replace(".", "", 1).isdigit() else 0.0)
    return found[-1].parent if found else None


def problem():
    """Why a throw-away server cannot start here, or None."""
    if server_programs() is None:
        return f"no PostgreSQL server programs (initdb, pg_ctl): {INSTALL_HINT}"
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} user to run the server as: {INSTALL_HINT}"
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed (pip install -r requirements.txt)"
    return None


def _as_server_user(command):
    return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command


def _run(command, what):
    result = subprocess.run(_as_server_user(command), capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"PostgreSQL {what} failed ({result.returncode}): {result.stdout[-2000:]}{result.stderr[-2000:]}")


@contextlib.contextmanager
def throwaway_server(database="gradebook", max_connections=100):
    """Start a fresh server with one database; yield its SQLAlchemy URL; stop it and delete its files."""
    reason = problem()
    if reason:
        raise RuntimeError(f"cannot start a PostgreSQL server: {reason}")
    programs = server_programs()
    folder = Path(tempfile.mkdtemp(prefix="softcap-pg-"))
    data, socket = folder / "data", folder / "socket"
    socket.mkdir()
    if os.geteuid() == 0:
        for path in (folder, socket):
            shutil.chown(path, SERVER_USER)
    started = False
    try:
        # trust: only processes of this machine that can reach the socket folder can connect at all.
        _run([str(programs / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust", "-E", "UTF8", "--no-sync",
              "--no-instructions"], "initdb")
        options = f"-c listen_addresses='' -k {socket} -c max_connections={max_connections}"
        _run([str(programs / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "server.log"), "-w",
              "start"], "start")
        started = True
        _run([str(programs / "createdb"), "-h", str(socket), "-U", ROLE, database], "createdb")
        yield f"postgresql+psycopg2://{ROLE}@/{database}?host={socket}"
    finally:
        if started:
            subprocess.run(_as_server_user([str(programs / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                                            "stop"]), capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def _closed_to_server_user(folder):
    """The first existing folder above ``folder`` that the server's user may not enter, or None."""
    import pwd

    user = pwd.getpwnam(SERVER_USER)
    for parent in reversed([folder, *folder.parents]):
        if not parent.exists():
            break
        mode = parent.stat()
        if mode.st_uid == user.pw_uid:
            allowed = mode.st_mode & 0o100
        elif mode.st_gid == user.pw_gid or mode.st_gid in os.getgrouplist(SERVER_USER, user.pw_gid):
            allowed = mode.st_mode & 0o010
        else:
            allowed = mode.st_mode & 0o001
        if not allowed:
            return parent
    return None


# sun_path holds 108 bytes, the last a NUL: PostgreSQL cannot listen on a longer socket path.
SOCKET_PATH_LIMIT = 107


def start(folder, database="softcap_course"):
    """A lasting server in ``folder`` (made on first use, started again later); returns its SQLAlchemy URL."""
    folder = Path(folder).resolve()
    data, socket = folder / "data", folder / "socket"
    socket_file = socket / ".s.PGSQL.5432"
    if len(os.fsencode(socket_file)) > SOCKET_PATH_LIMIT:
        raise SystemExit(f"cannot start a PostgreSQL server in {folder}: its socket would be {socket_file}, "
                         f"{len(os.fsencode(socket_file))} bytes, and a Unix socket's path may have at most "
                         f"{SOCKET_PATH_LIMIT}. Choose a folder with a shorter path (such as ~/gradebook-server)")
    reason = problem()
    if reason:
        raise SystemExit(f"cannot start a PostgreSQL server: {reason}")
    programs = server_programs()
    fresh = not (data / "PG_VERSION").exists()
    if os.geteuid() == 0:
        blocked = _closed_to_server_user(folder)
        if blocked:
            raise SystemExit(f"cannot start a PostgreSQL server in {folder}: the server runs as the user "
                             f"{SERVER_USER!r}, which cannot enter {blocked} (mode {oct(blocked.stat().st_mode)[-3:]}). "
                             f"Choose a folder it can reach, or let it through: chmod o+x {blocked}")
    socket.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        for path in (folder, socket):
            shutil.chown(path, SERVER_USER)
    if fresh:
        _run([str(programs / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust", "-E", "UTF8", "--no-instructions"],
             "initdb")
    status = subprocess.run(_as_server_user([str(programs / "pg_ctl"), "-D", str(data), "status"]), capture_output=True)
    if status.returncode != 0:
        _run([str(programs / "pg_ctl"), "-D", str(data), "-o", f"-c listen_addresses='' -k {socket}", "-l",
              str(folder / "server.log"), "-w", "start"], "start")
    if fresh:
        _run([str(programs / "createdb"), "-h", str(socket), "-U", ROLE, database], "createdb")
    return f"postgresql+psycopg2://{ROLE}@/{database}?host={socket}"


def stop(folder):
    _run([str(server_programs() / "pg_ctl"), "-D", str(Path(folder).resolve() / "data"), "-w", "stop"], "stop")


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description="A PostgreSQL server for the gradebook, in a folder of your choice "
                                                 "(Unix socket only, no system service).")
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("folder")
    args = parser.parse_args(argv)
    if args.action == "start":
        url = start(args.folder)
        print(f"PostgreSQL runs in {Path(args.folder).resolve()} (its log: server.log there); point nbgrader at it:")
        print(f"export NBGRADER_DB_URL='{url}'")
    else:
        stop(args.folder)
        print("stopped")


if __name__ == "__main__":
    main()
