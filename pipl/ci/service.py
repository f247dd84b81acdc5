"""The CI runner as a service beside the server: start it detached (under its
supervisor, ``pipl.ci.supervisor``, which starts it again when it dies), stop it, and tell
whether it runs. The runner's process itself (CI and the dashboard) is assembled in
``pipl.service``.

One runner per project: it holds an exclusive lock on ``.pipl/ci/runner.lock`` while it
lives (the OS drops it when the process dies, even by kill -9) and writes its pid to
``.pipl/ci/runner.pid`` once it holds it. Its supervisor holds ``supervisor.lock`` the same
way and keeps what it did in ``supervisor.json``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipl.ci import outbox, supervisor
from pipl.ci.config import load_ci_config
from pipl.ci.handlers import CiError
from pipl.ci.runner import lock_path, pid_path
from pipl.ci.supervisor import SupervisorState
from pipl.errors import PiplError
from pipl.project.project import Project, ProjectFiles
from pipl.runner import Runner

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
    supervisor: SupervisorState | None = None  # while a supervisor runs
    sandbox: tuple[str, str] = ("ok", "")  # state (ok, disabled, unavailable) and why

    def to_dict(self) -> dict[str, object]:
        sup = self.supervisor
        return {
            "sandbox": {"state": self.sandbox[0], "message": self.sandbox[1]},
            "running": self.running,
            "pid": self.pid,
            "log": self.log,
            "jobs": self.counts,
            "web": self.web,
            "supervisor": None
            if sup is None
            else {"pid": sup.pid, "restarts": sup.restarts, "last_restart": sup.last or None},
        }


@dataclass(frozen=True)
class CiStarted:
    """What ``ensure`` found or started: the runner's pid, its supervisor's."""

    pid: int
    supervisor: int | None
    runner_started: bool
    supervisor_started: bool

    def describe(self) -> str:
        """One line for ``pipl proj start``."""
        if self.runner_started:
            line = f"CI runner running (pid {self.pid}"
        else:
            line = f"CI runner already running (pid {self.pid}"
        if self.supervisor_started and not self.runner_started:
            return f"{line}); its supervisor started (pid {self.supervisor})"
        if self.supervisor is not None:
            return f"{line}, supervised by pid {self.supervisor})"
        return f"{line})"


def _held(project: ProjectFiles) -> bool:
    """True while some process holds the runner lock."""
    return supervisor.held(lock_path(project))


def runner_pid(project: ProjectFiles) -> int | None:
    """The running runner's pid, or None."""
    if not _held(project):
        return None
    try:
        return int(pid_path(project).read_text().strip())
    except (OSError, ValueError):
        return None


def status(project: Project, web_url: str | None = None) -> RunnerStatus:
    """The runner's state; ``web_url``: where it serves the dashboard, while it runs
    (``pipl.service.status`` passes it)."""
    from pipl.ci import db

    counts: dict[str, int] = {}
    if (outbox.ci_dir(project.root) / outbox.DB_NAME).exists():
        with db.open_db(project.root) as conn:
            counts = db.counts(conn)
    pid = runner_pid(project)
    web = web_url if pid is not None else None
    sup = supervisor.read_state(project.root)
    return RunnerStatus(
        pid is not None, pid, str(log_file(project)), counts, web, sup, sandbox_state(project)
    )


def sandbox_state(project: Project) -> tuple[str, str]:
    """Where code from the index runs (``pipl.ci.sandbox.describe``)."""
    from pipl.ci.sandbox import describe

    try:
        return describe(load_ci_config(project).sandbox)
    except PiplError as exc:
        return "unavailable", f"NOT KNOWN: {exc}"


def supervisor_pid(project: ProjectFiles) -> int | None:
    """The running supervisor's pid, or None."""
    state = supervisor.read_state(project.root)
    return state.pid if state is not None else None


def start_detached(
    project: Project, *, runner: Runner | None = None, supervise: bool = True
) -> int:
    """Start the runner in the background (under its supervisor unless ``supervise`` is
    false) unless it runs; return its pid once it holds its lock."""
    return ensure(project, runner=runner, supervise=supervise).pid


def ensure(project: Project, *, runner: Runner | None = None, supervise: bool = True) -> CiStarted:
    """Start what is missing of the runner and (``supervise``) its supervisor."""
    before = runner_pid(project)
    sup = supervisor_pid(project) if supervise else None
    if supervise and sup is None:
        proc = _spawn(project, ["pipl.ci.supervisor", str(project.root)], runner, "supervisor")
        pid = _wait_supervised(project, proc)
        sup = proc.pid
        return CiStarted(pid, sup, before is None, True)
    if before is not None:
        return CiStarted(before, sup, False, False)
    if supervise:  # the supervisor runs, its runner not (yet): it is starting one
        return CiStarted(_wait_supervised(project, None), sup, True, False)
    argv = ["pipl.cli", "--project", str(project.root), "ci", "run"]
    proc = _spawn(project, argv, runner, "CI runner")
    return CiStarted(_wait_runner(project, proc), None, True, False)


def _spawn(
    project: Project, argv: list[str], runner: Runner | None, what: str
) -> subprocess.Popen[bytes]:
    """``python -m ARGV`` in a session of its own, its output in the runner's log."""
    folder = outbox.ci_dir(project.root)
    folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PIPL_PROJECT"}
    with log_file(project).open("ab") as log:
        log.write(f"---- pipl: starting the {what} at {time.ctime()}\n".encode())
        log.flush()
        return (runner or Runner()).spawn(
            [sys.executable, "-m", *argv], stdout=log, env=env, detach=True
        )


def _wait_runner(project: Project, proc: subprocess.Popen[bytes]) -> int:
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


def _wait_supervised(project: Project, proc: subprocess.Popen[bytes] | None) -> int:
    """The runner's pid once it holds its lock, started by a supervisor (``proc`` when
    this process started it). A runner that dies before: a ``CiError``, the supervisor
    stopped."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        pid = runner_pid(project)
        if pid is not None:
            if proc is not None:
                proc.returncode = 0  # it lives on; stop() ends it
            return pid
        state = supervisor.read_state(project.root)
        if state is not None and state.deaths and proc is not None and state.pid == proc.pid:
            _stop_supervisor(project, STOP_TIMEOUT)
            raise CiError(f"the CI runner exited at start: see {log_file(project)}")
        if proc is not None and proc.poll() is not None and state is None:
            raise CiError(
                f"the CI supervisor exited at start (exit {proc.returncode}): "
                f"see {log_file(project)}"
            )
        time.sleep(0.05)
    raise CiError(
        f"the CI runner did not start within {START_TIMEOUT:.0f}s: see {log_file(project)}"
    )


def _signal_until(pid: int, done: Callable[[], bool], timeout: float) -> bool:
    """SIGTERM ``pid``, then SIGKILL after ``timeout``, until ``done()``; True if done."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                return True
            time.sleep(0.05)
    return False


def _stop_supervisor(project: ProjectFiles, timeout: float) -> int | None:
    """Stop the supervisor first (it stops its runner): nothing starts the runner again."""
    pid = supervisor_pid(project)
    if pid is None:
        return None
    lock = supervisor.lock_path(project.root)
    # the supervisor gives its runner STOP_TIMEOUT to leave, then kills it
    _signal_until(pid, lambda: not supervisor.held(lock), timeout + supervisor.STOP_TIMEOUT)
    return pid


def stop(project: ProjectFiles, *, timeout: float = STOP_TIMEOUT) -> int | None:
    """Stop the project's runner and its supervisor (SIGTERM, then SIGKILL); return the
    runner's pid, None if none ran."""
    pid = runner_pid(project)
    _stop_supervisor(project, timeout)
    left = runner_pid(project)  # one that runs without a supervisor
    if left is not None:
        _signal_until(left, lambda: not _held(project), timeout)
    return pid or left
