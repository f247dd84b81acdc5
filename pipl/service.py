"""The runner's process, assembled: CI (intake and the job workers, ``pipl.ci.runner``)
and the dashboard with the HTTP API (``pipl.web``), served together while the runner runs.

It sits above both, so neither imports the other: ``pipl proj start`` starts this process
(through ``pipl.ci.service``, under its supervisor), ``pipl ci run`` runs it in the
foreground, and ``status`` adds the dashboard's URL to the runner's state.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from pipl.ci import outbox
from pipl.ci.config import load_ci_config
from pipl.ci.handlers import CiError
from pipl.ci.runner import CiRunner, lock_path, pid_path
from pipl.ci.service import LOCK_WAIT, RunnerStatus, runner_pid
from pipl.ci.service import status as runner_status
from pipl.errors import PiplError
from pipl.fsutil import atomic_write
from pipl.project.project import Project, ProjectFiles

if TYPE_CHECKING:
    from pipl.web.server import WebServer


def status(project: Project) -> RunnerStatus:
    """The runner's state, with the dashboard's URL while it runs."""
    from pipl.web.address import web_url

    return runner_status(project, web_url(project))


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
    from pipl.ci.gates import load_gates

    load_gates(project)  # a [gates] table the runner cannot read stops it here, not each job
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
        _migrate(project, say)
        runner = CiRunner(project, config, say=say)
        web = start_web(project, say) if not until_idle else None
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


def _migrate(project: ProjectFiles, say: Callable[[str], None] | None) -> None:
    """Bring the CI database up to date once, as the runner starts: its requests and jobs
    then open it without changing its schema."""
    from pipl.ci import db

    for step in db.migrate(project.root):
        (say or print)(f"pipl: CI database: schema version {step.version} ({step.summary})")


def start_web(project: Project, say: Callable[[str], None] | None) -> WebServer | None:
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
