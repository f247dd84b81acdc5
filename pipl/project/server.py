"""The project's devpi-server: start (foreground or detached), stop, status.

devpi-server always runs as a separate process from the project's Python, with pipl's
devpi plugin loaded through its ``devpi_server`` entry point. A detached server is
tracked by a pid file; a start returns only once the server answers. Starts and stops
hold a lock on the pid file, so two of them never overlap: of two concurrent starts, one
starts the server and the other finds it running (``AlreadyRunning``). ``starting`` is the
lock of a whole ``pipl proj start`` (the server, then what runs beside it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipl.errors import AlreadyRunning as AlreadyRunning  # importable from here too
from pipl.errors import PortBusy, ProjectError, ServerError, ServerNotRunning
from pipl.fsutil import atomic_write, locked
from pipl.project import storage
from pipl.project.project import Project, ProjectFiles
from pipl.project.serverid import record_server_uuid
from pipl.runner import Runner

START_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0
POLL = 0.05


def devpi_argv(project: Project) -> list[str]:
    """The devpi-server command line for ``project`` (holds no secret: a PostgreSQL
    storage's password goes through the 0600 config file it names)."""
    cfg = project.config
    # a project's server serves replicas (replication is authenticated with its secret)
    role = ["--primary-url", cfg.primary_url] if cfg.primary_url else ["--role", "primary"]
    return [
        sys.executable,
        "-m",
        "devpi_server",
        "--serverdir",
        str(project.serverdir),
        "--host",
        cfg.host,
        "--port",
        str(cfg.port),
        "--secretfile",
        str(project.secrets.server_secret_file),
        # only root creates and modifies users and indexes (devpi lets anyone by default)
        "--restrict-modify",
        "root",
        *storage.devpi_args(cfg, project.secrets),
        *role,
        *cfg.server_args,
    ]


# -- process bookkeeping ---------------------------------------------------------------
def _is_alive(pid: int) -> bool:
    try:
        # reap it if it is our own child that has exited
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            # the main thread is a zombie; while other threads are still exiting, the
            # process keeps its files (the server's listening socket) open
            return len(os.listdir(f"/proc/{pid}/task")) > 1
    return True


def _is_our_server(project: ProjectFiles, pid: int) -> bool:
    """True if ``pid`` is alive and (where /proc tells) a devpi-server of this project."""
    if not _is_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        args = cmdline.read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc here: trust the pid file
    return str(project.serverdir).encode() in args


def read_pid(project: ProjectFiles) -> int | None:
    """The pid of the project's running server, or None (a stale pid file counts as none,
    and so does one this user may not read)."""
    try:
        pid = int(project.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_our_server(project, pid) else None


def _clear_stale_pidfile(project: ProjectFiles) -> int | None:
    """Remove a pid file whose process is gone; return the pid it named."""
    try:
        pid = int(project.pidfile.read_text().strip())
    except (FileNotFoundError, PermissionError):
        return None
    except ValueError:
        project.pidfile.unlink(missing_ok=True)
        return -1
    if _is_our_server(project, pid):
        return None
    project.pidfile.unlink(missing_ok=True)
    return pid


def check_port_free(host: str, port: int) -> None:
    """Raise ``PortBusy`` when something listens on ``host``:``port`` already."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortBusy(
                    f"port {port} on {host} is already in use by another program: stop it, "
                    "or set another [server] port in pipl.toml"
                ) from None
            raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _answers(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/+api", timeout=timeout) as resp:  # noqa: S310 - http URL built from pipl.toml
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _log_tail(path: Path, offset: int, lines: int = 30) -> list[str]:
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


def _death_message(project: Project, code: int | None, tail: list[str]) -> ServerError:
    joined = "\n".join(tail)
    if "Address already in use" in joined or "address already in use" in joined:
        return PortBusy(
            f"port {project.config.port} is already in use: stop the program using it, "
            "or set another [server] port in pipl.toml"
        )
    reason = next(
        (line for line in reversed(tail) if "fatal" in line.lower() or "error" in line.lower()),
        tail[-1] if tail else "no output",
    )
    return ServerError(
        f"devpi-server exited while starting (exit {code}): {reason.strip()} "
        f"(see {project.logfile})"
    )


# -- lifecycle ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Started:
    pid: int
    url: str
    seconds: float
    cleared_stale_pid: int | None = None


@contextlib.contextmanager
def _lifecycle_lock(
    project: ProjectFiles, timeout: float, path: Path | None = None
) -> Iterator[None]:
    """Hold the lock that starts and stops of the project's server take turns on (or the
    lock of ``path``, in the same folder)."""
    path = path or project.pidfile
    lockfile = path.with_name(path.name + ".lock")
    try:
        project.run_dir.mkdir(parents=True, exist_ok=True)
        writable = os.access(project.run_dir, os.W_OK) and (
            not lockfile.exists() or os.access(lockfile, os.W_OK)
        )
    except PermissionError:
        writable = False
    if not writable:
        raise ServerError(
            f"cannot write {project.run_dir}: only the project's owner can start or stop its server"
        )
    with locked(path, timeout=timeout):
        yield


@contextlib.contextmanager
def starting(project: ProjectFiles, timeout: float = START_TIMEOUT) -> Iterator[None]:
    """Hold the lock of a whole ``pipl proj start``: of two at once, the second finds
    running what the first started."""
    with _lifecycle_lock(project, timeout + 2 * STOP_TIMEOUT, project.run_dir / "start"):
        yield


def _prepare_start(project: Project) -> int | None:
    running = read_pid(project)
    if running is not None:
        raise AlreadyRunning(
            f"the server of project {project.name!r} is already running "
            f"(pid {running}, {project.url})",
            running,
        )
    secret = project.secrets.server_secret_file
    try:
        secret.read_bytes()
    except PermissionError:
        raise ServerError(
            f"cannot read {secret}: only the project's owner can start its server"
        ) from None
    except FileNotFoundError:
        raise ProjectError(f"{secret} is missing: the project folder is incomplete") from None
    stale = _clear_stale_pidfile(project)
    check_port_free(project.config.host, project.config.port)
    # devpi's database holds the users' password hashes: the folder stays the owner's
    with contextlib.suppress(OSError):
        project.serverdir.chmod(0o700)
    record_server_uuid(project)
    return stale


def _write_pid(project: ProjectFiles, pid: int) -> None:
    atomic_write(project.pidfile, f"{pid}\n")


def _wait_ready(
    project: Project, is_done: Callable[[], int | None], log_offset: int, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = is_done()
        if code is not None:
            raise _death_message(project, code, _log_tail(project.logfile, log_offset))
        if _answers(project.url):
            return
        time.sleep(POLL)
    raise ServerError(
        f"devpi-server did not answer at {project.url} within {timeout:.0f}s "
        f"(see {project.logfile})"
    )


def start_detached(
    project: Project, *, timeout: float = START_TIMEOUT, runner: Runner | None = None
) -> Started:
    """Start the server in the background and return once it answers."""
    began = time.perf_counter()
    with _lifecycle_lock(project, timeout + STOP_TIMEOUT):
        stale = _prepare_start(project)
        log_offset = project.logfile.stat().st_size if project.logfile.exists() else 0
        with project.logfile.open("ab") as log:
            log.write(f"---- pipl: starting devpi-server at {time.ctime()}\n".encode())
            log.flush()
            proc = (runner or Runner()).spawn(devpi_argv(project), stdout=log, detach=True)
        try:
            _write_pid(project, proc.pid)
            _wait_ready(project, proc.poll, log_offset, timeout)
        except BaseException:
            _terminate(proc.pid, STOP_TIMEOUT)
            proc.poll()
            project.pidfile.unlink(missing_ok=True)
            raise
    # the server lives on after this call; stop() reaps it
    proc.returncode = 0
    return Started(proc.pid, project.url, time.perf_counter() - began, stale)


def run_foreground(
    project: Project,
    *,
    on_ready: Callable[[Started], None] | None = None,
    timeout: float = START_TIMEOUT,
    runner: Runner | None = None,
) -> int:
    """Run the server attached to this terminal until it exits or Ctrl-C; return its code."""
    began = time.perf_counter()
    with _lifecycle_lock(project, timeout + STOP_TIMEOUT):
        stale = _prepare_start(project)
        proc = (runner or Runner()).spawn(devpi_argv(project))
        try:
            _write_pid(project, proc.pid)
        except BaseException:
            _terminate(proc.pid, STOP_TIMEOUT)
            proc.poll()
            raise
    try:
        try:
            _wait_ready(project, proc.poll, 0, timeout)
            if on_ready is not None:
                on_ready(Started(proc.pid, project.url, time.perf_counter() - began, stale))
            return proc.wait()
        except KeyboardInterrupt:
            # the terminal sent SIGINT to devpi-server too; give it time to finish
            try:
                return proc.wait(timeout=STOP_TIMEOUT)
            except KeyboardInterrupt:
                pass
            return _terminate(proc.pid, STOP_TIMEOUT) or 0
    finally:
        if proc.poll() is None:
            _terminate(proc.pid, STOP_TIMEOUT)
            proc.poll()
        with _lifecycle_lock(project, STOP_TIMEOUT), contextlib.suppress(OSError, ValueError):
            if int(project.pidfile.read_text().strip()) == proc.pid:
                project.pidfile.unlink()


def _terminate(pid: int, timeout: float) -> int | None:
    """SIGTERM, then SIGKILL after ``timeout``; return the exit code when known.
    Raises PermissionError when the process belongs to another OS user."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _is_alive(pid):
                return None
            time.sleep(POLL)
    return None


def stop(project: ProjectFiles, *, timeout: float = STOP_TIMEOUT) -> int:
    """Stop the project's server; return the pid it had.

    Needs only the project's folder (not its ``pipl.toml``), so a broken configuration
    never keeps a running server from stopping."""
    if not project.run_dir.is_dir():
        raise ServerNotRunning(f"the server of project {project.label} is not running")
    with _lifecycle_lock(project, 2 * timeout + STOP_TIMEOUT):
        pid = read_pid(project)
        if pid is None:
            stale = _clear_stale_pidfile(project)
            extra = f" (removed a stale pid file naming pid {stale})" if stale else ""
            raise ServerNotRunning(f"the server of project {project.label} is not running{extra}")
        try:
            _terminate(pid, timeout)
        except PermissionError:
            raise ServerError(
                f"the server of project {project.label} (pid {pid}) runs as another OS user: "
                "only that user can stop it"
            ) from None
        project.pidfile.unlink(missing_ok=True)
    return pid


@contextlib.contextmanager
def running(project: Project, *, timeout: float = START_TIMEOUT) -> Iterator[Started]:
    """Run the project's server for the duration of a ``with`` block."""
    started = start_detached(project, timeout=timeout)
    try:
        yield started
    finally:
        with contextlib.suppress(ServerNotRunning):
            stop(project)
