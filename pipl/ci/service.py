"""The CI runner as a service beside the server: run it, start it detached, stop it,
and tell whether it runs.

One runner per project: it holds an exclusive lock on ``.pipl/ci/runner.lock`` while it
lives (the OS drops it when the process dies, even by kill -9) and writes its pid to
``.pipl/ci/runner.pid`` once it holds it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipl.ci import outbox
from pipl.ci.config import load_ci_config
from pipl.ci.handlers import CiError
from pipl.ci.runner import CiRunner, lock_path, pid_path
from pipl.errors import PiplError
from pipl.fsutil import atomic_write
from pipl.project.project import Project, ProjectFiles
from pipl.runner import Runner

if TYPE_CHECKING:
    from pipl.web.server import WebServer

START_TIMEOUT = 30.0
LOCK_WAIT = 2.0  # seconds a starting runner waits for the runner lock
STOP_TIMEOUT = 20.0


def log_file(project: Project) -> Path:
    return outbox.ci_dir(project.root) / "runner.log"


@dataclass(frozen=True)
class RunnerStatus:
    running: bool
    pid: int | None
    log: str
    counts: dict[str, int]
    web: str | None = None  # the dashboard's URL while the runner serves it

    def to_dict(self) -> dict[str, object]:
        return {
            "running": self.running,
            "pid": self.pid,
            "log": self.log,
            "jobs": self.counts,
            "web": self.web,
        }


def _held(project: ProjectFiles) -> bool:
    """True while some process holds the runner lock. Asked through a read-only file
    descriptor (``flock``, the lock filelock takes), so users of the project who may not
    write its files can still tell."""
    import fcntl

    try:
        fd = os.open(lock_path(project), os.O_RDONLY)
    except OSError:  # no lock file: no runner ever ran (or it cannot be read: say none)
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the lock this took, if it took it
    return False


def runner_pid(project: ProjectFiles) -> int | None:
    """The running runner's pid, or None."""
    if not _held(project):
        return None
    try:
        return int(pid_path(project).read_text().strip())
    except (OSError, ValueError):
        return None


def status(project: Project) -> RunnerStatus:
    from pipl.ci import db

    counts: dict[str, int] = {}
    if (outbox.ci_dir(project.root) / outbox.DB_NAME).exists():
        conn = db.open_db(project.root)
        try:
            counts = db.counts(conn)
        finally:
            conn.close()
    from pipl.web.config import web_url

    pid = runner_pid(project)
    web = web_url(project) if pid is not None else None
    return RunnerStatus(pid is not None, pid, str(log_file(project)), counts, web)


def serve(
    project: Project,
    *,
    stop: threading.Event | None = None,
    until_idle: bool = False,
    say: Callable[[str], None] | None = None,
) -> None:
    """Run the runner in this process until SIGTERM/SIGINT (or ``stop``)."""
    from filelock import FileLock, Timeout

    config = load_ci_config(project)
    own_signals = stop is None and threading.current_thread() is threading.main_thread()
    stop = stop or threading.Event()
    folder = outbox.ci_dir(project.root)
    folder.mkdir(parents=True, exist_ok=True)
    # a short wait, not none: 'proj status' and 'proj start' tell whether a runner runs by
    # taking this lock for an instant, which must not turn a starting runner away
    lock = FileLock(lock_path(project), timeout=LOCK_WAIT)
    try:
        lock.acquire()
    except Timeout:
        raise CiError(
            f"a CI runner already runs for project {project.name!r} "
            f"(pid {runner_pid(project) or 'unknown'}): stop it with 'pipl proj stop' "
            "or kill that pid"
        ) from None
    try:
        if own_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        runner = CiRunner(project, config, say=say)
        web = _start_web(project, say) if not until_idle else None
        # the pid last: whoever waits for it ('pipl proj start') finds the dashboard too
        atomic_write(pid_path(project), f"{os.getpid()}\n")
        try:
            runner.run(stop, until_idle=until_idle)
        finally:
            if web is not None:
                web.stop()
            runner.close()
    finally:
        pid_path(project).unlink(missing_ok=True)
        lock.release()


def _start_web(project: Project, say: Callable[[str], None] | None) -> WebServer | None:
    """The dashboard and HTTP API, served by this process while it runs (unless
    ``[web] enabled = false``). A web server that cannot start does not stop the CI."""
    from pipl.web.server import WebServer

    web = WebServer(project)
    if not web.config.enabled:
        return None
    try:
        url = web.start()
    except PiplError as exc:
        (say or print)(f"pipl: {exc}")
        return None
    (say or print)(f"Dashboard and API at {url}")
    return web


def start_detached(project: Project, *, runner: Runner | None = None) -> int:
    """Start ``pipl ci run`` in the background; return its pid once it holds its lock."""
    pid = runner_pid(project)
    if pid is not None:
        return pid
    folder = outbox.ci_dir(project.root)
    folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PIPL_PROJECT"}
    with log_file(project).open("ab") as log:
        log.write(f"---- pipl: starting the CI runner at {time.ctime()}\n".encode())
        log.flush()
        proc = (runner or Runner()).spawn(
            [sys.executable, "-m", "pipl.cli", "--project", project.root, "ci", "run"],
            stdout=log,
            env=env,
            detach=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CiError(
                f"the CI runner exited at start (exit {proc.returncode}): see {log_file(project)}"
            )
        if runner_pid(project) == proc.pid:
            proc.returncode = 0  # it lives on; stop() ends it
            return proc.pid
        time.sleep(0.05)
    raise CiError(
        f"the CI runner did not start within {START_TIMEOUT:.0f}s: see {log_file(project)}"
    )


def stop(project: ProjectFiles, *, timeout: float = STOP_TIMEOUT) -> int | None:
    """Stop the project's runner (SIGTERM, then SIGKILL); return its pid, None if none ran."""
    pid = runner_pid(project)
    if pid is None:
        return None
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _held(project):
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                return pid
            time.sleep(0.05)
    return pid
