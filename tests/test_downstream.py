"""Data flows downstream: an upstream release reaching a stage where processing runs
re-processes the task packls there that depend on it (a real server, a real runner)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ci_support import run_until_idle
from flow_support import lib_sdist, task_sdist
from packaging.version import Version

from pipl.ci import db, downstream, outbox
from pipl.index.session import connect
from pipl.index.users import add_user
from pipl.project.project import Project

BIN = Path(sys.executable).parent
UPLOADER, PASSWORD = "lib-maker", "lib-maker-password-1"


def twine(project: Project, path: Path) -> None:
    url = f"{project.url}/{project.stage_index()}/"
    subprocess.run(
        [BIN / "twine", "upload", "--non-interactive", "--repository-url", url, path],
        check=True,
        capture_output=True,
        env={**os.environ, "TWINE_USERNAME": UPLOADER, "TWINE_PASSWORD": PASSWORD},
    )


@pytest.fixture(scope="module")
def uploader(ciproj: Project) -> str:
    """A user of the project who is not its owner."""
    with connect(ciproj, "admin") as admin:
        if UPLOADER not in admin.users():
            add_user(admin, UPLOADER, PASSWORD)
    return UPLOADER


def products(project: Project, name: str) -> dict[str, dict]:
    """The releases of product ``name`` on qa: version -> its data."""
    with connect(project, "anonymous") as anon:
        return anon.versions(project.stage_index("qa"), name, inherited=False)


def remakes(jobs: list[db.Job], task: str) -> list[db.Job]:
    return [j for j in jobs if j.project == task and j.handler == "process" and j.reason]


def start(project: Project, tmp: Path, lib: str, task: str, follow: str = "") -> None:
    """``lib 1.0`` (by twine, a non-owner) and ``task 0.1.0`` on qa, processed."""
    twine(project, lib_sdist(tmp, lib, "1.0"))
    with connect(project, "owner") as owner:
        owner.upload(project.stage_index(), task_sdist(tmp, task, lib, follow=follow))
    run_until_idle(project)
    made = products(project, f"{task}-report")
    assert made["0.1.0"]["summary"] == f"made with {lib} 1.0", made


def test_an_upstream_release_remakes_the_task_products(ciproj, tmp_path, uploader):
    start(ciproj, tmp_path, "flow-lib", "flow-task")
    twine(ciproj, lib_sdist(tmp_path, "flow-lib", "1.1"))
    jobs = run_until_idle(ciproj)
    [job] = remakes(jobs, "flow-task")
    log = (outbox.ci_dir(ciproj.root) / "logs" / f"{job.id}.log").read_text()
    assert job.state == "passed", log
    assert job.index == ciproj.stage_index("qa") and job.version == "0.1.0"
    assert job.reason == "re-processing for flow-lib 1.1 (upload)"
    assert job.message.startswith("re-processing for flow-lib 1.1 (upload): processing made")
    assert job.to_dict()["reason"] == job.reason
    made = products(ciproj, "flow-task-report")
    assert made["0.1.0.post1"]["summary"] == "made with flow-lib 1.1"
    assert "flow-lib==1.1" in made["0.1.0.post1"]["requires_dist"]  # its sources
    assert made["0.1.0"]["summary"] == "made with flow-lib 1.0"
    # the same re-processing again publishes nothing new
    conn = db.open_db(ciproj.root)
    conn.execute("UPDATE jobs SET state = 'failed' WHERE id = ?", (job.id,))
    db.retry(conn, job.id)
    conn.close()
    again = {j.id: j for j in run_until_idle(ciproj)}[job.id]
    assert again.state == "passed", again.message
    assert "flow-task-report 0.1.0.post1 published already" in again.message
    assert sorted(products(ciproj, "flow-task-report")) == ["0.1.0", "0.1.0.post1"]
    # pipl's own client publishes the next one
    with connect(ciproj, "owner") as owner:
        owner.upload(ciproj.stage_index(), lib_sdist(tmp_path, "flow-lib", "1.2"))
    jobs = remakes(run_until_idle(ciproj), "flow-task")
    assert [j.reason for j in jobs][-1] == "re-processing for flow-lib 1.2 (upload)"
    assert jobs[-1].state == "passed", jobs[-1].message
    made = products(ciproj, "flow-task-report")
    assert made["0.1.0.post2"]["summary"] == "made with flow-lib 1.2"


def test_a_task_that_does_not_follow_is_not_remade(ciproj, tmp_path, uploader):
    start(ciproj, tmp_path, "still-lib", "still-task", follow="follow = false")
    twine(ciproj, lib_sdist(tmp_path, "still-lib", "1.1"))
    jobs = remakes(run_until_idle(ciproj), "still-task")
    assert [j.state for j in jobs] == ["passed"]
    assert jobs[0].message.endswith("not followed (still-task does not follow still-lib 1.1)")
    assert sorted(products(ciproj, "still-task-report")) == ["0.1.0"]


def test_a_burst_of_upstream_releases_makes_at_most_two_remakes(ciproj, tmp_path, uploader):
    start(ciproj, tmp_path, "burst-lib", "burst-task")
    twine(ciproj, lib_sdist(tmp_path, "burst-lib", "1.1"))
    twine(ciproj, lib_sdist(tmp_path, "burst-lib", "1.2"))
    jobs = remakes(run_until_idle(ciproj), "burst-task")
    assert 1 <= len(jobs) <= 2, [(j.reason, j.message) for j in jobs]
    assert all(j.state == "passed" for j in jobs), [j.message for j in jobs]
    made = products(ciproj, "burst-task-report")
    last = max(made, key=Version)
    assert made[last]["summary"] == "made with burst-lib 1.2"
    assert "burst-lib==1.2" in made[last]["requires_dist"]


def test_a_cycle_is_refused(tmp_path):
    """A task re-processed for a product made (through another task) from its own one."""
    conn = db.open_db(tmp_path)

    def event(project: str, version: str) -> outbox.Event:
        return outbox.Event(1, "p/qa", project, version, f"{project}.tar.gz", "0" * 64, 1, "", 0)

    def ran(project: str, version: str, made: str, made_version: str) -> int:
        db.add_job(conn, handler="process", rank=25, event=event(project, version), key="")
        job_id = int(conn.execute("SELECT max(id) FROM jobs").fetchone()[0])
        conn.execute("UPDATE jobs SET state = 'passed' WHERE id = ?", (job_id,))
        db.record_made(conn, job_id, "p/qa", made, made_version)
        return job_id

    conn.execute(
        "INSERT INTO releases (ix, project, version, seen, serial, files) "
        "VALUES (?, ?, ?, 0, 1, ?)",
        ("p/qa", "a", "1.0", '[{"name": "a-1.0.tar.gz", "sha256": "", "href": ""}]'),
    )
    ran("a", "1.0", "a-out", "1.0")  # a made a-out; b, which needs a-out, made b-out
    ran("b", "1.0", "b-out", "1.0")
    conn.execute(
        "INSERT INTO remakes VALUES (2, ?, ?)",
        ('["a-out==1.0"]', '[["a", "1.0"], ["a-out", "1.0"]]'),
    )
    assert downstream.remake_release(conn, event("b-out", "1.0"), "a", "1.0")
    [job] = [j for j in db.list_jobs(conn) if j.project == "a" and j.reason]
    assert job.state == "failed"
    assert job.message == "refused: a cycle: a 1.0 -> a-out 1.0 -> b 1.0 -> b-out 1.0 -> a 1.0"
    conn.close()
