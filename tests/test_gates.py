"""Stage gates with their defaults, against a real server and runner: dev -> qa by itself
once QA (with tests) and the wheel passed; qa -> prod only with an approval, which then
promotes the release and the products CI made from it; QA with no tests is "none"."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from ci_support import run_until_idle, task_sdist
from conftest import new_project
from helpers import make_wheel, run

from pipl import Client
from pipl.errors import ProjectError
from pipl.index.client import IndexClient
from pipl.index.session import connect
from pipl.index.stages import create_default
from pipl.index.users import add_user
from pipl.project import server
from pipl.project.config import DEFAULT_GATES, Gate, parse_gates

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory, hermetic: Path):
    from pipl.ci import service

    proj = new_project(tmp_path_factory.mktemp("gates") / "gated", default_gates=True)
    with server.running(proj):
        with connect(proj, "admin") as admin:
            create_default(proj, admin)
            add_user(admin, "alice", "alice-password-1")
        yield proj
        service.stop(proj)


def upload_as_alice(project, path: Path) -> None:
    with IndexClient(project.url) as alice:
        alice.login("alice", "alice-password-1")
        alice.upload(project.stage_index(), path)


def on(project, stage: str, name: str, version: str) -> bool:
    with connect(project, "anonymous") as anon:
        return any(
            lk.rel == "releasefile" for lk in anon.links(project.stage_index(stage), name, version)
        )


def test_a_release_reaches_qa_by_itself_and_prod_only_once_approved(gated, tmp_path):
    upload_as_alice(gated, task_sdist(tmp_path, "gated-task", "1.0"))
    jobs = {
        (j.index.rsplit("/", 1)[-1], j.handler): j
        for j in run_until_idle(gated)
        if j.project == "gated-task"
    }
    assert jobs["dev", "promote"].state == "passed" and on(gated, "qa", "gated-task", "1.0")
    # on qa, processing ran before promotion; the product stays beside its release
    assert jobs["qa", "process"].finished <= jobs["qa", "promote"].started
    assert "published 2 file(s) to gated/qa" in jobs["qa", "process"].message
    held = jobs["qa", "promote"]
    assert held.state == "passed" and held.message.startswith("held on gated/qa")
    assert "1 more approval(s)" in held.message
    assert not on(gated, "prod", "gated-task", "1.0")
    assert not on(gated, "prod", "gated-task-report", "1.0")
    # the owner's manual push goes through the same gate
    pushed = run(["proj", "index", "push", "gated-task", "1.0", "--to", "prod"], project=gated.root)
    assert pushed.exit_code != 0 and "1 more approval(s)" in pushed.stderr
    # the owner approves alice's release: it and its product move to prod
    with Client.from_project(gated.root) as client:
        client.releases.review(
            stage="qa", project="gated-task", version="1.0", decision="approve", comment="ok"
        )
    run_until_idle(gated)
    assert on(gated, "prod", "gated-task", "1.0")
    assert on(gated, "prod", "gated-task-report", "1.0")
    subprocess.run(
        [
            BIN / "pip",
            "install",
            "--quiet",
            "--target",
            tmp_path / "site",
            "--index-url",
            gated.simple_url(gated.stage_index("prod")),
            "gated-task-report==1.0",
        ],
        check=True,
        capture_output=True,
    )


def test_a_release_without_tests_has_qa_none_and_stays(gated, tmp_path):
    upload_as_alice(gated, make_wheel(tmp_path, "untested", "1.0"))
    jobs = {
        j.handler: j
        for j in run_until_idle(gated)
        if j.project == "untested" and j.index.endswith("/dev")
    }
    assert jobs["qa"].state == "passed" and jobs["qa"].message.startswith("QA none")
    assert jobs["promote"].state == "failed"
    assert "QA none: untested 1.0 has no tests" in jobs["promote"].message
    assert not on(gated, "qa", "untested", "1.0")
    pushed = run(["proj", "index", "push", "untested", "1.0", "--to", "qa"], project=gated.root)
    assert pushed.exit_code != 0 and "QA none" in pushed.stderr
    with Client.from_project(gated.root) as client:
        listed = {r.project: r for r in client.releases.list("dev").releases}
    assert listed["untested"].qa == "none"


def test_gates_are_read_from_pipl_toml_and_checked():
    stages = ["dev", "qa", "prod"]
    assert parse_gates({}, stages) == {"qa": DEFAULT_GATES["qa"], "prod": DEFAULT_GATES["prod"]}
    opened = parse_gates({"prod": {}, "qa": {"qa": True}}, stages)
    assert opened["prod"] == Gate() and opened["qa"] == Gate(qa=True)
    assert (
        parse_gates({"prod": {"approvals": 2, "reviewers": ["lead"]}}, stages)["prod"].approvals
        == 2
    )
    with pytest.raises(ValueError, match=r"\[gates.stage\] names no stage \(stages: dev, qa"):
        parse_gates({"stage": {}}, stages)
    with pytest.raises(
        ValueError, match=r"\[gates.prod\] approval is not a setting \(did you mean 'approvals'"
    ):
        parse_gates({"prod": {"approval": 1}}, stages)
    with pytest.raises(TypeError, match=r"\[gates.qa\] qa must be true or false"):
        parse_gates({"qa": {"qa": "yes"}}, stages)


def test_a_gate_the_runner_cannot_read_stops_it_at_start(gated):
    from pipl.service import serve

    toml = gated.root / "pipl.toml"
    before = toml.read_text()
    try:
        toml.write_text(before + "\n[gates.prod]\napproval = 1\n")
        stopped = threading.Event()
        stopped.set()  # a runner that starts at all returns at once
        with pytest.raises(
            ProjectError,
            match=r"\[gates.prod\] approval is not a setting \(did you mean 'approvals'",
        ):
            serve(gated, stop=stopped)
    finally:
        toml.write_text(before)


def test_a_version_missing_from_the_source_is_named_before_a_gate_is_asked(gated):
    """``push --to qa`` of a version the first stage does not have: the error names the
    missing release (the CLI and the API alike), not the gate of qa that it cannot meet."""
    from pipl.errors import NotFound

    dev = gated.stage_index()
    pushed = run(["proj", "index", "push", "nowhere", "9.9", "--to", "qa"], project=gated.root)
    [line] = [line for line in pushed.stderr.splitlines() if line.strip()]
    assert line.startswith(f"Error: no files of nowhere 9.9 on {dev} or the indexes"), line
    with Client.from_project(gated.root) as client, pytest.raises(NotFound) as caught:
        client.promote("nowhere", "9.9", to="qa")
    assert f"Error: {caught.value}" == line and pushed.exit_code == caught.value.exit_code
