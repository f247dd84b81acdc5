"""CI reliability: kill -9 the runner or devpi-server in a burst, and handlers that raise,
hang or print garbage."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ci_support import handled_index, run_until_idle
from helpers import make_wheel

from pipl.ci import db, handlers, service
from pipl.index.session import connect
from pipl.project import server
from pipl.project.project import Project

BURST = 6


@pytest.fixture
def relproj(ciproj: Project) -> Iterator[Project]:
    yield ciproj
    service.stop(ciproj)


def _burst(project: Project, index: str, tmp: Path, n: int, prefix: str) -> list[str]:
    names = [f"{prefix}{i}" for i in range(n)]
    with connect(project, "owner") as owner:
        for name in names:
            owner.upload(index, make_wheel(tmp / name, name, "1.0"))
    return names


def _assert_all_promoted_once(
    project: Project, jobs: list[db.Job], names: list[str], source: str, target: str
) -> None:
    promoted = {j.project: j for j in jobs if j.handler == "promote" and j.index == source}
    assert sorted(promoted) == sorted(names)
    assert {j.state for j in promoted.values()} == {"passed"}, [
        (j.project, j.state, j.message) for j in promoted.values() if j.state != "passed"
    ]
    with connect(project, "anonymous") as anon:
        for name in names:
            files = [lk for lk in anon.links(target, name, "1.0") if lk.rel == "releasefile"]
            assert [lk.basename for lk in files] == [f"{name}-1.0-py3-none-any.whl"]


def test_kill_9_runner_mid_burst_then_restart(relproj, tmp_path):
    with connect(relproj, "admin") as admin:
        out = handled_index(admin, relproj, "out", [])
        src = handled_index(admin, relproj, "src", ["qa", "promote"], promote_to=out)
    conn = db.open_db(relproj.root)
    before = db.counts(conn)["passed"]  # the session's project keeps other tests' jobs
    pid = service.start_detached(relproj, supervise=False)  # it stays dead
    names = _burst(relproj, src, tmp_path, BURST, "kr")
    deadline = time.monotonic() + 60
    while db.counts(conn)["passed"] - before < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    passed = db.counts(conn)["passed"] - before
    assert passed < 2 * BURST, "the burst ended before the kill: make it bigger"
    time.sleep(0.3)
    assert service.runner_pid(relproj) is None
    jobs = run_until_idle(relproj)
    conn.close()
    _assert_all_promoted_once(relproj, jobs, names, src, out)
    assert {j.state for j in jobs if j.index == src} == {"passed"}


def test_kill_9_devpi_mid_burst_then_restart(relproj, tmp_path):
    with connect(relproj, "admin") as admin:
        out = handled_index(admin, relproj, "out2", [])
        src = handled_index(admin, relproj, "src2", ["qa", "promote"], promote_to=out)
    names = _burst(relproj, src, tmp_path, 2, "kd")
    os.kill(server.read_pid(relproj), signal.SIGKILL)
    time.sleep(0.5)
    server.start_detached(relproj)
    names += _burst(relproj, src, tmp_path, 2, "kdb")
    jobs = run_until_idle(relproj)
    _assert_all_promoted_once(relproj, jobs, names, src, out)


BAD_HANDLERS = """
import os, sys, time

class Raises:
    rank = 0
    per_file = False
    timeout = None
    def accepts(self, filename): return True
    def run(self, ctx): raise RuntimeError("this handler is broken")

class Hangs(Raises):
    timeout = 2
    def run(self, ctx):
        time.sleep(600)

class Sleeps(Hangs):
    timeout = 120

class Garbage(Raises):
    def run(self, ctx):
        sys.stdout.buffer.write(bytes(range(256)) * 4)
        sys.stdout.flush()
        os._exit(3)

class Fine(Raises):
    def run(self, ctx):
        child = ctx.child_env()
        secret = [k for k in child if "TOKEN" in k or "PASSWORD" in k]
        return f"fine; token in the job: {'PIPL_CI_TOKEN' in os.environ}; in its tools: {secret}"
"""


def _plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install the handlers of BAD_HANDLERS for this process and the jobs it starts."""
    site = tmp_path / "plugins"
    (site / "badhandlers").mkdir(parents=True)
    (site / "badhandlers" / "__init__.py").write_text(BAD_HANDLERS)
    info = site / "badhandlers-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: badhandlers\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[pipl.ci_handlers]\n"
        + "".join(
            f"{n} = badhandlers:{c}\n"
            for n, c in [
                ("raises", "Raises"),
                ("hangs", "Hangs"),
                ("garbage", "Garbage"),
                ("fine", "Fine"),
                ("sleeps", "Sleeps"),
                ("broken", "Missing"),
            ]
        )
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))
    handlers.available.cache_clear()


def test_bad_handlers_fail_with_readable_logs_and_others_pass(relproj, tmp_path, monkeypatch):
    _plugins(tmp_path, monkeypatch)
    try:
        with connect(relproj, "admin") as admin:
            ix = handled_index(
                admin, relproj, "bad", ["raises", "hangs", "garbage", "broken", "nosuch", "fine"]
            )
        _burst(relproj, ix, tmp_path, 1, "victim")
        start = time.monotonic()
        jobs = {j.handler: j for j in run_until_idle(relproj) if j.index == ix}
    finally:
        handlers.available.cache_clear()
    assert time.monotonic() - start < 60
    assert jobs["fine"].state == "passed"
    # the job's token reached its client, not its environment nor the tools it runs
    assert jobs["fine"].message == "fine; token in the job: False; in its tools: []"
    assert {h: j.state for h, j in jobs.items() if h != "fine"} == dict.fromkeys(
        ["raises", "hangs", "garbage", "broken", "nosuch"], "failed"
    )
    assert "raised RuntimeError: this handler is broken" in jobs["raises"].message
    assert "timed out after 2s" in jobs["hangs"].message
    assert "exited 3 without a result" in jobs["garbage"].message
    assert "cannot be loaded" in jobs["broken"].message
    assert "no CI handler 'nosuch'" in jobs["nosuch"].message
    log = (relproj.root / ".pipl/ci/logs" / f"{jobs['raises'].id}.log").read_text()
    assert "Traceback" in log and "RuntimeError: this handler is broken" in log


def test_proj_start_runs_the_runner_and_stop_stops_it(relproj, tmp_path):
    from helpers import run

    pid = service.start_detached(relproj)
    status = run(["proj", "status"], project=relproj.root)
    assert f"ci runner:    running, pid {pid}" in status.output
    assert service.start_detached(relproj) == pid  # one runner per project
    assert service.stop(relproj) == pid
    assert service.runner_pid(relproj) is None
    status = run(["proj", "status"], project=relproj.root)
    assert "ci runner:    not running" in status.output


def test_a_look_at_the_lock_does_not_turn_a_starting_runner_away(relproj):
    import fcntl
    import threading

    from pipl.ci.handlers import CiError
    from pipl.ci.runner import lock_path
    from pipl.service import serve

    lock_path(relproj).parent.mkdir(parents=True, exist_ok=True)
    lock_path(relproj).touch()
    fd = os.open(lock_path(relproj), os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # what 'proj status' does for an instant, held longer
    threading.Timer(0.5, os.close, (fd,)).start()
    pid = service.start_detached(relproj)
    try:
        assert service.runner_pid(relproj) == pid
        # a second runner of the project is still refused, in one line
        with pytest.raises(CiError, match="a CI runner already runs"):
            serve(relproj, stop=threading.Event())
    finally:
        service.stop(relproj)


def test_cancel_stops_a_running_job(relproj, tmp_path, monkeypatch):
    from helpers import run

    _plugins(tmp_path, monkeypatch)
    try:
        with connect(relproj, "admin") as admin:
            ix = handled_index(admin, relproj, "cancelled", ["sleeps"])
        service.start_detached(relproj)
        _burst(relproj, ix, tmp_path, 1, "stuck")
        conn = db.open_db(relproj.root)
        deadline = time.monotonic() + 30
        job = None
        while time.monotonic() < deadline:
            job = next((j for j in db.list_jobs(conn) if j.index == ix), None)
            if job is not None and job.state == "running" and job.child_pid:
                break
            time.sleep(0.05)
        assert job is not None and job.child_pid
        result = run(["ci", "cancel", str(job.id)], project=relproj.root)
        assert result.output.startswith(f"Job {job.id} (sleeps stuck0 1.0) cancelled.")
        time.sleep(1.0)
        after = db.get_job(conn, job.id)
        conn.close()
        assert after.state == "cancelled"
        with pytest.raises(ProcessLookupError):
            os.kill(job.child_pid, 0)
    finally:
        service.stop(relproj)
        handlers.available.cache_clear()
