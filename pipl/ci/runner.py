"""``pipl ci run``: turn upload events into jobs and run them, a few at a time.

The runner is one process per project (a file lock says so). Its main loop takes the
outbox's hints and events, sweeps the handled indexes now and then, and hands runnable jobs
to a bounded pool of workers. Each job runs in a child process (``pipl.ci.job``, forked by
the prefork process of ``pipl.ci.prefork`` when it runs) in a new session, with a timeout,
its output in a log file of its own; infrastructure errors are retried with backoff, a job
killed by a signal once (``pipl.ci.retry``). After a crash (kill -9), the jobs the last
runner left running are stopped and queued again: handlers are idempotent, so a rerun
changes nothing twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pipl.ci import dask, db, downstream, handback, intake, outbox, retry
from pipl.ci.config import CiConfig
from pipl.ci.dask_jobs import DaskBuild, resources_for
from pipl.ci.handlers import CiError, load
from pipl.ci.intake import IndexCache
from pipl.ci.job import TOKEN_ENV
from pipl.ci.login import ci_login
from pipl.ci.outcome import Outcome, outcome_of
from pipl.ci.outcome import note as _note
from pipl.ci.prefork import Prefork
from pipl.ci.spec import JobSpec
from pipl.errors import PiplError
from pipl.index.client import IndexClient
from pipl.project.project import Project, ProjectFiles
from pipl.runner import Runner

POLL = 0.05
SWEEP_EVERY = 5.0
WAIT_DELAY = 1.0


def log_path(project: Project, job_id: int) -> Path:
    return outbox.ci_dir(project.root) / "logs" / f"{job_id}.log"


def job_dir(project: Project, job_id: int) -> Path:
    return outbox.ci_dir(project.root) / "jobs" / str(job_id)


def lock_path(project: ProjectFiles) -> Path:
    return outbox.ci_dir(project.root) / "runner.lock"


def pid_path(project: ProjectFiles) -> Path:
    return outbox.ci_dir(project.root) / "runner.pid"


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class CiRunner:
    """The runner of one project. ``run(stop)`` returns when ``stop`` is set."""

    def __init__(
        self,
        project: Project,
        config: CiConfig,
        *,
        runner: Runner | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.project = project
        self.config = config
        self.runner = runner or Runner()
        self.say = say or (lambda line: None)
        self.pid = os.getpid()
        # sqlite connections stay in their thread, and a client's login is its own: each
        # thread running jobs has its own of both (``conn``, ``client``)
        self._local = threading.local()
        self.cache = IndexCache(self.client)
        self._swept_serial = -1
        self.stopping = threading.Event()
        self.wake = threading.Event()  # set when a job ends: the main loop looks again
        self.prefork: Prefork | None = None
        self.dask: dask.DaskDispatch | None = None  # [ci] executor = "dask"

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection to the CI database."""
        if getattr(self._local, "conn", None) is None:
            self._local.conn = db.open_db(self.project.root)
        conn: sqlite3.Connection = self._local.conn
        return conn

    @property
    def client(self) -> IndexClient:
        """This thread's client of the index server."""
        if getattr(self._local, "client", None) is None:
            self._local.client = IndexClient(self.project.url)
        client: IndexClient = self._local.client
        return client

    def _close_thread(self) -> None:
        """Close this thread's connection and client (opened again when next used)."""
        conn, client = getattr(self._local, "conn", None), getattr(self._local, "client", None)
        self._local.conn = self._local.client = None
        if client is not None:
            client.close()
        if conn is not None:
            conn.close()

    # -- recovery -------------------------------------------------------------------------
    def recover(self) -> int:
        """Queue again the jobs a dead runner left running; stop their children."""
        n = 0
        for job in db.orphans(self.conn):
            if job.child_pid:
                _kill_group(job.child_pid)
            db.requeue(self.conn, job.id, 0, "the runner stopped while this job ran; run again")
            n += 1
        return n

    # -- intake ---------------------------------------------------------------------------
    def intake(self, *, force_sweep: bool = False) -> int:
        """One round: hints, a forced sweep if asked, events to jobs. Returns new jobs."""
        intake.take_hints(self.conn, self.client)
        if force_sweep:
            self._sweep(self.conn, self.cache)
        return len(intake.jobs_for_events(self.conn, self.cache))

    def _sweep(self, conn: sqlite3.Connection, cache: IndexCache) -> int:
        serial = int(cache.client.status().get("serial", -1))
        found = intake.sweep(conn, cache, serial, self.project.stage_indexes)
        self._swept_serial = serial
        return found

    def _sweeper(self, stop: threading.Event) -> None:
        """Sweep every ``SWEEP_EVERY`` seconds when devpi's serial moved, in a thread of its
        own (with its own connection and client) so the main loop never waits for it."""
        conn = db.open_db(self.project.root)
        client = IndexClient(self.project.url)
        cache = IndexCache(client)
        try:
            while not stop.wait(SWEEP_EVERY):
                try:
                    if int(client.status().get("serial", -1)) != self._swept_serial:
                        self._sweep(conn, cache)
                except Exception as exc:  # the server went away mid-request, and the like
                    self.say(f"sweep: {type(exc).__name__}: {exc}")
        finally:
            client.close()
            conn.close()

    # -- running jobs ---------------------------------------------------------------------
    def _gates(self, job: db.Job) -> tuple[dict[str, str], str | None]:
        """States of the release's other jobs here, and why ``job`` must not run (if so)."""
        gates: dict[str, str] = {}
        blocked = None
        for other in db.release_jobs(self.conn, job.index, job.project, job.version):
            if other.id == job.id:
                continue
            gates[other.handler] = other.state
            if 0 < other.rank < job.rank and other.state in (db.FAILED, db.CANCELLED):
                blocked = blocked or f"{other.handler} {other.state} (job {other.id})"
        qa = db.handler_state(self.conn, "qa", job.project, job.version)
        if qa:
            gates["qa:any"] = qa
        return gates, blocked

    def execute(self, job: db.Job) -> Outcome:
        """Run one claimed job in its own process and record how it ended."""
        gates, blocked = self._gates(job)
        try:
            handler = load(job.handler)
        except CiError as exc:
            return self._end(job, Outcome(db.FAILED, str(exc)))
        if blocked and getattr(handler, "needs_passed", False):
            db.finish(self.conn, job.id, db.CANCELLED, f"not run: {blocked}")
            return Outcome(db.CANCELLED, f"not run: {blocked}")
        timeout = float(getattr(handler, "timeout", None) or self.config.timeout)
        folder = job_dir(self.project, job.id)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in ("result.json", handback.HANDBACK):  # an earlier attempt's
            (folder / stale).unlink(missing_ok=True)
        shutil.rmtree(folder / "work", ignore_errors=True)  # every attempt starts afresh
        spec = JobSpec(
            job_id=job.id,
            handler=job.handler,
            project_root=str(self.project.root),
            index=job.index,
            project=job.project,
            version=job.version,
            filename=job.filename,
            sha256=job.sha256,
            workdir=str(folder / "work"),
            attempt=job.attempts,
            index_config=self.cache.configs.get(job.index) or {},
            gates=gates,
            created=job.created,
            spawned=time.time(),
            sandbox=dataclasses.asdict(self.config.sandbox),
            server_url=self.project.url,
            remake=downstream.recorded(self.conn, job),
        )
        on_dask = self.dask is not None and dask.has_worker_part(handler)
        if on_dask:  # the deliver part starts now and waits for the build's files
            spec = dataclasses.replace(spec, part="deliver", handback_wait=timeout)
        spec.write(folder / "spec.json")
        try:
            token = ci_login(self.project, self.client)
        except PiplError as exc:
            return self._end(job, Outcome("retry", str(exc)), budget=timeout)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPL_CI_",))}
        env[TOKEN_ENV] = f"{token.user}:{token.token}:{token.expires}"
        log = log_path(self.project, job.id)
        log.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        if on_dask:  # the build part goes first; the deliver process starts meanwhile
            assert self.dask is not None
            end = lambda outcome: self._end(job, outcome, budget=timeout)  # noqa: E731
            build = DaskBuild(self.dask, job, self.conn, log, self.stopping, timeout, end)
            build.send(spec, resources_for(job.handler, handler, self.config.resources), deadline)
        proc = self._start(folder, log, env)
        db.set_child(self.conn, job.id, proc.pid)
        if on_dask:
            built = build.run(folder)
            if built is not None:  # the deliver process has nothing to deliver
                _kill_group(proc.pid)
                proc.wait()
                return built
        code: int | None = None
        while code is None:
            try:
                code = proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:  # still running
                if time.monotonic() > deadline:
                    _kill_group(proc.pid)
                    proc.wait()
                    return self._end(
                        job, Outcome(db.FAILED, f"timed out after {timeout:.0f}s: see its log")
                    )
                if self.stopping.is_set():
                    _kill_group(proc.pid)
                    proc.wait()
                    db.requeue(self.conn, job.id, 0, "the runner stopped while this job ran")
                    return Outcome("retry", "the runner stopped")
                if db.get_job(self.conn, job.id).state == db.CANCELLED:
                    _kill_group(proc.pid)
                    proc.wait()
                    return Outcome(db.CANCELLED, "cancelled")
        _kill_group(proc.pid)  # anything the handler left behind in its session
        return self._end(job, self._read_outcome(folder, code, log), budget=timeout)

    def _start(self, folder: Path, log: Path, env: dict[str, str]) -> Any:
        """Start the job's process: forked by the prefork process when it runs (and the
        job's imports would be the same), else a new interpreter."""
        if self.prefork is not None and self.prefork.compatible(env):
            try:
                return self.prefork.start(folder / "spec.json", log, folder, env)
            except CiError as exc:
                self.say(f"{exc}: starting the job in a new interpreter")
        with log.open("ab") as out:
            return self.runner.spawn(
                [sys.executable, "-m", "pipl.ci.job", folder / "spec.json"],
                stdout=out,
                env=env,
                detach=True,
                cwd=folder,
            )

    def _read_outcome(self, folder: Path, code: int, log: Path) -> Outcome:
        if code < 0:  # killed by a signal from outside (the runner's own kills return early)
            return Outcome("killed", retry.signal_name(code), code)
        try:
            data = json.loads((folder / "result.json").read_text())
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict) or "state" not in data or "message" not in data:
            tail = [line for line in _tail(log) if line.strip()]
            last = tail[-1].strip() if tail else "no output"
            return Outcome(db.FAILED, f"the job process exited {code} without a result: {last}")
        return outcome_of(code, data, "the job process")

    def _end(self, job: db.Job, outcome: Outcome, *, budget: float | None = None) -> Outcome:
        if outcome.state == "wait":
            db.requeue(self.conn, job.id, WAIT_DELAY, outcome.message, count=False)
            return outcome
        outcome = self._retry(job, outcome, budget or self.config.timeout)
        if outcome.state == "retry":
            return outcome
        db.finish(self.conn, job.id, outcome.state, outcome.message)
        self.say(f"job {job.id} {job.handler} {job.project} {job.version}: {outcome.state}")
        return outcome

    def _retry(self, job: db.Job, outcome: Outcome, budget: float) -> Outcome:
        """Queue the job again after an infrastructure error or a kill, if it may run again
        (then the outcome is ``retry``); else the outcome to record."""
        folder = job_dir(self.project, job.id)
        state = retry.RetryState.load(folder, job.attempts)
        if outcome.state == "retry":
            decision = retry.after_infra_error(
                state,
                outcome.message,
                attempts=job.attempts,
                minimum=self.config.retries,
                budget=budget,
            )
        elif outcome.state == "killed":
            decision = retry.after_kill(state, outcome.code)
        else:
            if state.killed:
                note = f" ({state.killed} at an earlier attempt: retried once)"
                return Outcome(outcome.state, outcome.message + note, outcome.code)
            return outcome
        _note(log_path(self.project, job.id), decision.message)
        if not decision.again:
            return Outcome(db.FAILED, decision.message, outcome.code)
        state.save(folder)
        db.requeue(self.conn, job.id, decision.delay, decision.message)
        self.say(f"job {job.id} {job.handler} {job.project} {job.version}: {decision.message}")
        return Outcome("retry", decision.message, outcome.code)

    # -- the loop -------------------------------------------------------------------------
    def run(self, stop: threading.Event, *, until_idle: bool = False) -> None:
        """Serve until ``stop`` is set (or, ``until_idle``, until no job is left to run)."""
        recovered = self.recover()
        if recovered:
            self.say(f"queued again {recovered} job(s) left running by a stopped runner")
        self.prefork = self._start_prefork()
        if self.config.executor == "dask" and self.dask is None:
            self.dask = dask.DaskDispatch(self.config.scheduler)
            self.say(f"jobs with a build part run on the Dask cluster at {self.config.scheduler}")
            if self.dask.plugin_error:
                self.say(f"{self.dask.plugin_error}: its jobs fork from its first job on")
        workers = self.config.workers
        running: dict[int, Future[Outcome]] = {}
        first = True
        sweeper = threading.Thread(
            target=self._sweeper, args=(self.stopping,), name="ci-sweep", daemon=True
        )
        sweeper.start()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ci-job") as pool:
            while not stop.is_set():
                try:
                    self.intake(force_sweep=first)
                    first = False
                except Exception as exc:  # the server went away mid-request, and the like
                    self.say(f"intake: {type(exc).__name__}: {exc}; trying again in 1s")
                    stop.wait(1.0)
                for job_id, fut in list(running.items()):
                    if fut.done():
                        del running[job_id]
                        if fut.exception() is not None:
                            self.say(f"job {job_id}: runner error {fut.exception()!r}")
                            db.finish(
                                self.conn, job_id, db.FAILED, f"runner error: {fut.exception()}"
                            )
                while len(running) < workers:
                    job = db.claim_next(self.conn, self.pid)
                    if job is None:
                        break
                    self.say(f"job {job.id} {job.handler} {job.project} {job.version}: running")
                    running[job.id] = pool.submit(self._execute_in_thread, job)
                # a last look before leaving: a sweep finds what hooks have not recorded yet
                if until_idle and not running and not self._pending() and self._idle():
                    break
                self.wake.wait(POLL)
                self.wake.clear()
            self.stopping.set()
            for fut in running.values():
                with contextlib.suppress(Exception):
                    fut.result()

    def _start_prefork(self) -> Prefork | None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPL_CI_",))}
        try:
            return Prefork(env, outbox.ci_dir(self.project.root), self.runner)
        except (CiError, OSError) as exc:
            self.say(f"{exc}: jobs start in new interpreters")
            return None

    def _execute_in_thread(self, job: db.Job) -> Outcome:
        try:
            return self.execute(job)
        finally:
            self._close_thread()
            self.wake.set()

    def _idle(self) -> bool:
        """True when a forced sweep finds nothing new either."""
        try:
            return self.intake(force_sweep=True) == 0 and not self._pending()
        except Exception:  # the server is away: not idle, try again
            return False

    def _pending(self) -> bool:
        counts = db.counts(self.conn)
        return counts[db.QUEUED] > 0 or counts[db.RUNNING] > 0

    def close(self) -> None:
        if self.dask is not None:
            self.dask.close()
            self.dask = None
        if self.prefork is not None:
            self.prefork.close()
            self.prefork = None
        self._close_thread()


def _tail(path: Path, size: int = 4096) -> list[str]:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - size))
            return fh.read().decode(errors="replace").splitlines()
    except OSError:
        return []
