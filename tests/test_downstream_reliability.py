"""Data flowing downstream, when things go wrong: kill -9 of the runner in the middle of a
chain of three levels, and a burst of upstream releases (a real server, real runners).

The chain: ``LIB`` (a library) -> task ``A`` (requires ``LIB>=1.0``, makes ``A-report``)
-> task ``B`` (requires ``A-report>=0.1``, makes ``B-report``), all processed on qa.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ci_support import run_until_idle
from flow_support import task_sdist
from helpers import make_wheel
from packaging.version import Version

from pipl.ci import db, downstream, outbox, service
from pipl.index.session import connect
from pipl.project.project import Project

pytestmark = pytest.mark.slow


def upload_lib(project: Project, tmp: Path, lib: str, version: str) -> None:
    with connect(project, "owner") as owner:
        owner.upload(project.stage_index(), make_wheel(tmp / f"{lib}-{version}", lib, version))


def reports(project: Project, task: str) -> dict[str, dict]:
    """The releases of ``task``'s product on qa: version -> its data."""
    with connect(project, "anonymous") as anon:
        return anon.versions(project.stage_index("qa"), f"{task}-report", inherited=False)


def remakes(project: Project, task: str) -> list[db.Job]:
    conn = db.open_db(project.root)
    try:
        jobs = db.list_jobs(conn, limit=100_000)
    finally:
        conn.close()
    return sorted(
        (j for j in jobs if j.project == task and j.handler == "process" and j.reason),
        key=lambda j: j.id,
    )


def chain(project: Project, tmp: Path, prefix: str) -> tuple[str, str, str]:
    """``LIB 1.0``, ``A 0.1.0`` and ``B 0.1.0`` on qa, each task processed once."""
    lib, a, b = f"{prefix}-lib", f"{prefix}-a", f"{prefix}-b"
    upload_lib(project, tmp, lib, "1.0")
    with connect(project, "owner") as owner:
        owner.upload(project.stage_index(), task_sdist(tmp, a, lib, "1.0"))
    run_until_idle(project)
    assert reports(project, a)["0.1.0"]["summary"] == f"made with {lib} 1.0"
    with connect(project, "owner") as owner:
        owner.upload(project.stage_index(), task_sdist(tmp, b, f"{a}-report", "0.1"))
    run_until_idle(project)
    assert reports(project, b)["0.1.0"]["summary"] == f"made with {a}-report 0.1.0"
    return lib, a, b


def wait_for(what: str, check: Callable[[], object], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.05)


def wait_idle(project: Project, quiet: float = 3.0, timeout: float = 120.0) -> None:
    """Until no job is queued or running for ``quiet`` seconds (as ``pipl ci wait``)."""
    conn = db.open_db(project.root)
    try:
        since: float | None = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = db.counts(conn)
            if counts[db.QUEUED] + counts[db.RUNNING]:
                since = None
            elif since is None:
                since = time.monotonic()
            elif time.monotonic() - since > quiet:
                return
            time.sleep(0.1)
    finally:
        conn.close()
    raise AssertionError(f"CI still busy after {timeout:.0f} s")


@pytest.fixture
def runner(ciproj: Project) -> Iterator[Project]:
    """The session's CI project; its detached runner stopped afterwards."""
    yield ciproj
    service.stop(ciproj)


def test_kill_9_of_the_runner_mid_chain_then_a_new_runner_completes_it(runner, tmp_path):
    lib, a, b = chain(runner, tmp_path, "kc")
    pid = service.start_detached(runner, supervise=False)  # killed, it stays dead
    upload_lib(runner, tmp_path, lib, "1.1")
    # the middle of the chain: A's product for lib 1.1 has landed on qa, B not yet re-made
    wait_for(f"{a}-report 0.1.0.post1 on qa", lambda: "0.1.0.post1" in reports(runner, a))
    os.kill(pid, signal.SIGKILL)
    assert "0.1.0.post1" not in reports(runner, b), "the chain ended before the kill"
    wait_for("the runner to be gone", lambda: service.runner_pid(runner) is None, 10)
    run_until_idle(runner)  # a new runner
    # one new product version per level, each pinning the release above it
    made_a, made_b = reports(runner, a), reports(runner, b)
    assert sorted(made_a, key=Version) == ["0.1.0", "0.1.0.post1"]
    assert sorted(made_b, key=Version) == ["0.1.0", "0.1.0.post1"]
    assert made_a["0.1.0.post1"]["summary"] == f"made with {lib} 1.1"
    assert f"{lib}==1.1" in made_a["0.1.0.post1"]["requires_dist"]
    assert made_b["0.1.0.post1"]["summary"] == f"made with {a}-report 0.1.0.post1"
    assert f"{a}-report==0.1.0.post1" in made_b["0.1.0.post1"]["requires_dist"]
    # each level's re-processing ran to its end (a job interrupted by the kill again)
    for task, pin in ((a, f"{lib}==1.1"), (b, f"{a}-report==0.1.0.post1")):
        jobs = remakes(runner, task)
        assert [j.state for j in jobs] == ["passed"], [(j.reason, j.message) for j in jobs]
        assert pin.replace("==", " ") in jobs[0].reason


BURST = 20
BURST_SECONDS = 10.0


def arrivals(project: Project, lib: str) -> list[float]:
    """When each release of ``lib`` was first recorded on qa (its events there)."""
    conn = outbox.connect(outbox.ci_dir(project.root))
    try:
        rows = conn.execute(
            "SELECT version, MIN(recorded) FROM events WHERE ix = ? AND project = ? "
            "GROUP BY version",
            (project.stage_index("qa"), lib),
        ).fetchall()
    finally:
        conn.close()
    return sorted(float(r[1]) for r in rows)


def test_a_burst_of_twenty_upstream_releases_is_coalesced_and_none_is_lost(runner, tmp_path):
    lib, a, b = chain(runner, tmp_path, "bc")
    versions = [f"1.{i}" for i in range(1, BURST + 1)]
    wheels = [make_wheel(tmp_path / f"{lib}-{v}", lib, v) for v in versions]
    service.start_detached(runner, supervise=False)
    t0 = time.monotonic()
    with connect(runner, "owner") as owner:
        for i, wheel in enumerate(wheels):
            owner.upload(runner.stage_index(), wheel)
            time.sleep(max(0.0, t0 + (i + 1) * BURST_SECONDS / BURST - time.monotonic()))
    assert time.monotonic() - t0 < BURST_SECONDS + 2
    wait_idle(runner)
    service.stop(runner)
    # none lost: every release reached qa, and the last products pin the last upstream
    landed = arrivals(runner, lib)
    assert len(landed) == BURST + 1  # 1.0 too
    made_a, made_b = reports(runner, a), reports(runner, b)
    last_a, last_b = max(made_a, key=Version), max(made_b, key=Version)
    assert made_a[last_a]["summary"] == f"made with {lib} {versions[-1]}"
    assert f"{lib}=={versions[-1]}" in made_a[last_a]["requires_dist"]
    assert made_b[last_b]["summary"] == f"made with {a}-report {last_a}"
    assert f"{a}-report=={last_a}" in made_b[last_b]["requires_dist"]
    # coalesced: a re-processing is queued only when none waits (the others join it), and
    # each waits SETTLE seconds before it starts, so two are made at least SETTLE apart
    span = landed[-1] - landed[1]
    jobs_a, jobs_b = remakes(runner, a), remakes(runner, b)
    bound = 1 + int(span / downstream.SETTLE)
    assert 1 <= len(jobs_a) <= bound, (span, [j.reason for j in jobs_a])
    assert all(j.state == "passed" for j in [*jobs_a, *jobs_b]), [
        (j.project, j.message) for j in [*jobs_a, *jobs_b] if j.state != "passed"
    ]
    # one product per re-processing, one re-processing of B per new product of A
    assert len(made_a) == 1 + len(jobs_a)
    assert 1 <= len(jobs_b) <= len(made_a) - 1
    assert len(made_b) == 1 + len(jobs_b)
    print(
        f"{BURST} releases of {lib} landed on qa over {span:.1f} s: "
        f"{len(jobs_a)} re-processing(s) of {a}, {len(jobs_b)} of {b}"
    )
