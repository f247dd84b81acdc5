"""Nothing strands a release: the runner's supervisor starts it again after a kill -9,
'pipl proj start' starts what is missing, a job outlives a restart of the index server,
and a job killed by a signal runs again once."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ci_support import handled_index
from helpers import fails, make_wheel, run

from pipl.ci import db, handlers, service
from pipl.index.session import connect
from pipl.project import server
from pipl.project.project import Project

HANDLERS = """
import json, time

class CallsHome:
    rank = 0
    per_file = False
    timeout = None
    def accepts(self, filename): return True
    def run(self, ctx):
        time.sleep(1.5)  # long enough for the test to stop the server first
        ctx.client.status()
        return "the server answered"

def attempt(ctx):
    return json.loads((ctx.workdir.parent / "spec.json").read_text())["attempt"]

class KilledOnce(CallsHome):
    def run(self, ctx):
        if attempt(ctx) == 1:
            time.sleep(120)  # killed from outside meanwhile
        return f"attempt {attempt(ctx)} ran to its end"

class KilledAlways(CallsHome):
    def run(self, ctx):
        time.sleep(120)
"""


@pytest.fixture
def supproj(ciproj: Project) -> Iterator[Project]:
    yield ciproj
    service.stop(ciproj)
    if server.read_pid(ciproj) is None:  # a test that failed with the server stopped
        server.start_detached(ciproj)


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The handlers of HANDLERS, for this process and the runners and jobs it starts."""
    site = tmp_path / "plugins"
    (site / "suphandlers").mkdir(parents=True)
    (site / "suphandlers" / "__init__.py").write_text(HANDLERS)
    info = site / "suphandlers-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: suphandlers\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[pipl.ci_handlers]\n"
        "callshome = suphandlers:CallsHome\n"
        "killedonce = suphandlers:KilledOnce\n"
        "killedalways = suphandlers:KilledAlways\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))
    handlers.available.cache_clear()
    yield
    handlers.available.cache_clear()


def _wait(what: str, check: Callable[[], object], timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


def _job(project: Project, index: str) -> db.Job | None:
    conn = db.open_db(project.root)
    try:
        return next(iter(db.list_jobs(conn, index=index)), None)
    finally:
        conn.close()


def _upload_one(project: Project, index: str, tmp: Path, name: str) -> None:
    with connect(project, "owner") as owner:
        owner.upload(index, make_wheel(tmp / name, name, "1.0"))


def _running(project: Project, index: str, attempt: int) -> Callable[[], db.Job | None]:
    def check() -> db.Job | None:
        job = _job(project, index)
        ok = job and job.state == "running" and job.child_pid and job.attempts == attempt
        return job if ok else None

    return check


def _queued(project: Project, index: str) -> Callable[[], db.Job | None]:
    def check() -> db.Job | None:
        job = _job(project, index)
        return job if job is not None and job.state == "queued" and job.message else None

    return check


def _done(project: Project, index: str) -> Callable[[], db.Job | None]:
    def check() -> db.Job | None:
        job = _job(project, index)
        return job if job is not None and job.state in db.DONE else None

    return check


def test_a_runner_killed_by_sigkill_is_restarted_and_status_says_so(supproj):
    pid = service.start_detached(supproj)
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    new = _wait("a new runner", lambda: (service.runner_pid(supproj) or pid) != pid, 10)
    print(f"a new runner holds the lock {time.monotonic() - killed:.2f}s after the kill")
    assert new
    status = run(["proj", "status"], project=supproj.root)
    assert f"ci runner:    running, pid {service.runner_pid(supproj)}" in status.output
    assert "runner restarted at " in status.output
    assert "after it died (exit -9)" in status.output
    data = json.loads(run(["proj", "status", "--json"], project=supproj.root).output)["data"]
    assert data["ci"]["supervisor"]["restarts"] == 1
    assert "after it died (exit -9)" in data["ci"]["supervisor"]["last_restart"]
    log = Path(data["ci"]["log"]).read_text()
    assert "runner restarted at " in log and "the CI runner died (exit -9)" in log
    # 'proj stop' stops the supervisor first: nothing starts the runner again
    assert run(["proj", "stop"], project=supproj.root).exit_code == 0
    assert service.runner_pid(supproj) is None and service.supervisor_pid(supproj) is None
    server.start_detached(supproj)


def test_proj_start_starts_the_runner_only_when_the_server_runs(supproj):
    server_pid = server.read_pid(supproj)
    started = run(["proj", "start", "--detach", "--no-supervise"], project=supproj.root)
    assert started.exit_code == 0, started.output
    assert f"Server already running at {supproj.url} (pid {server_pid})" in started.output
    pid = service.runner_pid(supproj)
    assert pid is not None and f"CI runner running (pid {pid})" in started.output
    assert service.supervisor_pid(supproj) is None
    os.kill(pid, signal.SIGKILL)
    time.sleep(1.0)
    assert service.runner_pid(supproj) is None  # no supervisor: it stays dead

    again = run(["proj", "start", "--detach"], project=supproj.root)
    assert again.exit_code == 0, again.output
    assert "Server already running" in again.output and "Server ready" not in again.output
    pid = service.runner_pid(supproj)
    assert pid is not None and f"CI runner running (pid {pid}, supervised by pid" in again.output
    assert server.read_pid(supproj) == server_pid
    # both run: nothing to start
    fails(
        run(["proj", "start", "--detach"], project=supproj.root),
        4,
        "already running",
        f"and so is its CI runner (pid {pid})",
    )


def test_a_job_outlives_a_restart_of_the_index_server(supproj, plugins, tmp_path):
    with connect(supproj, "admin") as admin:
        ix = handled_index(admin, supproj, "outage", ["callshome"])
    service.start_detached(supproj)
    _upload_one(supproj, ix, tmp_path, "outage")
    _wait("the job running", _running(supproj, ix, 1), 30)
    server.stop(supproj)  # before the handler calls home
    time.sleep(15)  # longer than 4 attempts took before (1 + 2 + 4 s apart)
    server.start_detached(supproj)
    job = _wait("the job done", _done(supproj, ix), 60)
    assert isinstance(job, db.Job)
    assert (job.state, job.message) == ("passed", "the server answered"), job
    assert job.attempts > 4
    log = (supproj.root / ".pipl/ci/logs" / f"{job.id}.log").read_text()
    assert "== pipl ci runner: retrying in 8s" in log


def test_a_job_killed_by_sigkill_runs_again_once_and_passes(supproj, plugins, tmp_path):
    with connect(supproj, "admin") as admin:
        ix = handled_index(admin, supproj, "oom", ["killedonce"])
    service.start_detached(supproj)
    _upload_one(supproj, ix, tmp_path, "oom")
    first = _wait("the first attempt", _running(supproj, ix, 1), 30)
    assert isinstance(first, db.Job) and first.child_pid
    os.kill(first.child_pid, signal.SIGKILL)  # as the kernel's out-of-memory killer does
    job = _wait("the job done", _done(supproj, ix), 30)
    assert isinstance(job, db.Job)
    assert job.state == "passed" and job.attempts == 2, job
    assert job.message == (
        "attempt 2 ran to its end (killed by signal 9 (SIGKILL) at an earlier attempt: "
        "retried once)"
    )
    log = (supproj.root / ".pipl/ci/logs" / f"{job.id}.log").read_text()
    assert "== pipl ci runner: killed by signal 9 (SIGKILL): retried once" in log


def test_a_job_killed_twice_fails_after_one_retry(supproj, plugins, tmp_path):
    with connect(supproj, "admin") as admin:
        ix = handled_index(admin, supproj, "oom2", ["killedalways"])
    service.start_detached(supproj)
    _upload_one(supproj, ix, tmp_path, "oomtwice")
    first = _wait("the first attempt", _running(supproj, ix, 1), 30)
    assert isinstance(first, db.Job) and first.child_pid
    os.kill(first.child_pid, signal.SIGKILL)
    queued = _wait("the job queued again", _queued(supproj, ix), 5)
    assert isinstance(queued, db.Job)
    assert queued.message == "killed by signal 9 (SIGKILL): retried once"
    second = _wait("the second attempt", _running(supproj, ix, 2), 30)
    assert isinstance(second, db.Job) and second.child_pid
    os.kill(second.child_pid, signal.SIGKILL)
    job = _wait("the job done", _done(supproj, ix), 30)
    assert isinstance(job, db.Job)
    assert job.state == "failed" and job.attempts == 2, job
    assert job.message.startswith("killed by signal 9 (SIGKILL) again"), job.message
