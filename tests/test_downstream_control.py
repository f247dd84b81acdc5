"""Seeing and controlling data flowing downstream: ``client.wait`` follows the
re-processings an upstream release set going to the last product; the owner pauses and
resumes the flow on a stage, and a product whose upstream did not flow is stale (a real
server, the project's runner in the background)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from flow_support import lib_sdist, task_sdist
from jobs_support import live_runner
from test_downstream import PASSWORD, twine
from test_downstream import uploader as uploader

from pipl.api import Client
from pipl.api.jobs import Job, Triggered
from pipl.errors import AuthError
from pipl.index.session import connect
from pipl.project.project import Project
from tests.helpers import fails, run

WAIT = 300.0


@pytest.fixture(scope="module")
def web(ciproj: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_runner(ciproj, tmp_path_factory.mktemp("flow-site")) as url:
        yield url


def upload(project: Project, path: Path) -> None:
    with connect(project, "owner") as owner:
        owner.upload(project.stage_index(), path)


def wait(project: Project, name: str, version: str) -> Triggered:
    with Client.from_project(project.root) as client:
        seen = client.wait(name, version, timeout=WAIT)
    assert seen.ok, [(j.id, j.project, j.handler, j.state, j.message) for j in seen.jobs]
    return seen


def start(project: Project, tmp: Path, lib: str, task: str) -> None:
    """``lib 1.0`` (by twine, a non-owner) and ``task 0.1.0``, processed on qa."""
    twine(project, lib_sdist(tmp, lib, "1.0"))
    wait(project, lib, "1.0")
    upload(project, task_sdist(tmp, task, lib))
    wait(project, task, "0.1.0")


def remakes(jobs: list[Job], task: str) -> list[Job]:
    return [j for j in jobs if j.project == task and j.handler == "process" and j.reason]


def stale_of(client: Client, product: str, version: str) -> list[tuple[str, str, str]]:
    found = client.releases.product(product, version)
    return [(s.source, s.pinned, s.newer) for s in found.stale]


def test_a_paused_stage_leaves_products_stale_until_resumed(
    ciproj: Project, tmp_path: Path, uploader: str, web: str
) -> None:
    start(ciproj, tmp_path, "pause-lib", "pause-task")
    with Client.from_project(ciproj.root) as client:
        assert stale_of(client, "pause-task-report", "0.1.0") == []
        paused = client.flow.pause("qa")
        assert paused.paused and paused.by == ciproj.owner and paused.processing
        try:
            twine(ciproj, lib_sdist(tmp_path, "pause-lib", "1.1"))
            seen = wait(ciproj, "pause-lib", "1.1")
            assert remakes(seen.jobs, "pause-task") == []  # nothing flowed
            assert ("pause-lib", "1.1") in {(j.project, j.version) for j in seen.jobs}
            [qa] = [f for f in client.flow.status() if f.stage == "qa"]
            assert qa.paused and qa.skipped == ["pause-lib==1.1"]
            # its manifest pins the task only: what it was made with of pause-lib is ""
            assert stale_of(client, "pause-task-report", "0.1.0") == [("pause-lib", "", "1.1")]
            listed = {(p.name, p.version): p for p in client.releases.products(limit=200)}
            assert [str(s) for s in listed["pause-task-report", "0.1.0"].stale] == [
                "pause-lib 1.1 did not flow"
            ]
            page = httpx.get(f"{web}/products", timeout=60).text
            assert "stale: pause-lib 1.1 did not flow" in page
        finally:
            resumed = client.flow.resume("qa")
        assert not resumed.paused and resumed.skipped == []
        [queued] = resumed.queued
        seen = wait(ciproj, "pause-lib", "1.1")
        [job] = remakes(seen.jobs, "pause-task")
        assert job.id == queued and job.reason == "re-processing for pause-lib 1.1 (upload)"
        assert stale_of(client, "pause-task-report", "0.1.0") == []
        assert stale_of(client, "pause-task-report", "0.1.0.post1") == []
        summary = client.releases.product("pause-task-report", "0.1.0.post1").description
        assert summary == "made with pause-lib 1.1"
    assert "stale: pause-lib" not in httpx.get(f"{web}/products", timeout=60).text


def test_pausing_is_for_the_owner(ciproj: Project, web: str, uploader: str) -> None:
    with Client(web) as anonymous:
        assert [f.stage for f in anonymous.flow.status()] == list(ciproj.config.stages)
        with pytest.raises(AuthError, match="needs a logged-in user"):
            anonymous.flow.pause("qa")
        anonymous.login(uploader, PASSWORD)
        with pytest.raises(AuthError, match="is for the owner"):
            anonymous.flow.pause("qa")


def test_the_owner_pauses_and_resumes_the_flow_from_the_cli(ciproj: Project) -> None:
    """``pipl proj index flow`` goes through the same operations as ``client.flow``."""
    qa = ciproj.stage_index("qa")
    paused = run(["proj", "index", "flow", "pause", "qa"], project=ciproj.root)
    try:
        assert paused.exit_code == 0, paused.output
        assert paused.output.startswith(f"qa ({qa}): paused since "), paused.output
        assert paused.output.rstrip().endswith(f"by {ciproj.owner}"), paused.output
        shown = run(["proj", "index", "flow", "status", "--json"], project=ciproj.root)
        stages = {s["stage"]: s for s in json.loads(shown.output)["data"]}
        assert stages["qa"]["paused"] and stages["qa"]["by"] == ciproj.owner
        with Client.from_project(ciproj.root) as client:
            assert [f.paused for f in client.flow.status() if f.stage == "qa"] == [True]
    finally:
        resumed = run(["proj", "index", "flow", "resume", "qa"], project=ciproj.root)
    assert resumed.exit_code == 0, resumed.output
    assert resumed.output.startswith(f"qa ({qa}): flows"), resumed.output
    fails(run(["proj", "index", "flow", "pause", "nowhere"], project=ciproj.root), 5, "no stage")


def test_wait_follows_the_reprocessings_to_the_last_product(
    ciproj: Project, tmp_path: Path, uploader: str, web: str
) -> None:
    """chain-lib -> chain-task (its product chain-task-report) -> chain-next, which
    needs that product: a new chain-lib re-processes both, one after the other."""
    start(ciproj, tmp_path, "chain-lib", "chain-task")
    upload(ciproj, task_sdist(tmp_path, "chain-next", "chain-task-report", "0.1"))
    wait(ciproj, "chain-next", "0.1.0")
    twine(ciproj, lib_sdist(tmp_path, "chain-lib", "1.1"))
    seen = wait(ciproj, "chain-lib", "1.1")
    [first] = remakes(seen.jobs, "chain-task")
    [second] = remakes(seen.jobs, "chain-next")
    assert first.reason == "re-processing for chain-lib 1.1 (upload)"
    assert second.reason.startswith("re-processing for chain-task-report 0.1.0.post1 (")
    reached = {(r.index, r.project, r.version): r.by_job for r in seen.releases}
    qa = ciproj.stage_index("qa")
    assert reached[(qa, "chain-task-report", "0.1.0.post1")] == first.id
    assert reached[(qa, "chain-next-report", "0.1.0.post1")] == second.id
    # the last product's own jobs were waited for too
    last = [j for j in seen.jobs if (j.project, j.version) == ("chain-next-report", "0.1.0.post1")]
    assert last and all(j.done for j in last), last
    with Client.from_project(ciproj.root) as client:
        made = client.releases.product("chain-next-report", "0.1.0.post1")
        assert made.description == "made with chain-task-report 0.1.0.post1"
        assert made.stale == []
