"""examples/cg: a model, a rig, a shot task and its render, all through the project index."""

import json
import sys
from pathlib import Path

import pytest

from pipl.index.session import connect
from tests.helpers import fails, run

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "cg"


@pytest.fixture(scope="module")
def facts(project, tmp_path_factory):
    sys.path.insert(0, str(EXAMPLE))
    try:
        import run as cg_run
    finally:
        sys.path.remove(str(EXAMPLE))
    return cg_run.run(
        project, workspace="cg", log=lambda _: None, workdir=tmp_path_factory.mktemp("cg")
    )


def test_open_scene_resolves_upstream_assets(facts, project):
    out = facts["open_scene"]
    ws = project.root / "workareas" / "default" / "cg"
    assert f"{ws}/assets/chair-rig/chair-rig.scene.ma" in out  # type-owned name (.ma)
    assert "chair-model.chair.ma" in out and "chair-model.textures" in out
    assert "viewer: maya-2025" in out  # the edit extra's envset reached the command
    scene = (ws / "assets" / "chair-rig" / "chair-rig.scene.ma").read_text()
    assert 'createNode joint -n "chair_root"' in scene


def test_envsets_of_the_edit_extra(facts):
    assert facts["envsets"]["CG_SCENE_VIEWER"] == "maya-2025"
    assert facts["envsets"]["PATH"].split(":")[0].endswith("maya_tools/bin")


def test_render_installs_with_plain_pip_and_fetches_verified_frames(facts, project):
    lines = facts["viewer"].splitlines()
    assert lines[0].startswith("shot-010-anim-render 0.1.0 render ['shot-010-anim.0001.exr'")
    assert lines[1] == "sources chair-rig==1.0.0 shot-010-anim==0.1.0"
    # provenance down to the bytes: each pin with the sha256 of its files on the index
    pinned = json.loads(lines[2].removeprefix("source_files "))
    assert set(pinned) == {"chair-rig==1.0.0", "shot-010-anim==0.1.0"}
    with connect(project, "anonymous") as client:
        on_index = {
            lk.basename: lk.sha256
            for lk in client.release_files(project.stage_index(), "shot-010-anim", "0.1.0")
        }
    assert pinned["shot-010-anim==0.1.0"] == on_index and len(on_index) == 2
    installed = set(facts["installed"])
    assert {"chair_rig", "chair_model", "shot_010_anim", "pipl_pipe"} <= installed
    assert "maya_tools" not in installed  # tools come only with the edit extra


def test_cli_on_the_cg_workspace(facts, project):
    def cli(*args):
        return run([*args, "-w", "cg"], project=project.root)

    env = json.loads(cli("work", "env", "--json").output)["data"]
    assert env["env"]["MAYA_VERSION"] == "2025" and not env["conflicts"]
    fetched = cli("work", "fetch-assets").output
    # the rig (scene) and the model (chair, textures) the task depends on
    assert "chair-rig.scene:" in fetched and "3 assets" in fetched.splitlines()[-1]
    built = cli("packl", "process", "-p", "shot-010-anim", "--no-publish").output
    assert f"frames (exr-frames, {facts['render']['frames'][:12]})" in built  # deterministic
    fails(cli("packl", "create-task", "shot-animation", "-p", "chair-rig-user"), 8, "no packl")
    fails(
        cli("packl", "create-task", "paint", "-p", "shot-010-anim"), 7, "unknown task type 'paint'"
    )
    fails(cli("packl", "process", "-p", "cg-pipeline"), 8, "has no processing")


def test_processing_again_publishes_nothing_new(facts, project):
    """The same task version with the same outputs makes the same product files."""
    again = run(["packl", "process", "-p", "shot-010-anim", "-w", "cg"], project=project.root)
    assert again.exit_code == 0, again.output
    assert again.output.count("identical, skipped") == 2, again.output


def test_create_task_console_script_in_the_workspace(facts, project):
    """`create_task` as a user types it in the workspace shell, refresh included."""
    from pipl.packl.create import create_packl
    from pipl.runner import Runner
    from pipl.workspace.shell import workspace_env
    from pipl.workspace.workspace import find_workspace

    ws = find_workspace(project, "cg")
    create_packl(project, ws, "shot-020-anim", "lib")
    env = workspace_env(project, ws, envsets=True)
    done = Runner().run(["create_task", "shot-020-anim", "shot-animation"], env=env)
    assert "shot-020-anim is now a shot-animation task" in done.stdout
    assert done.stdout.rstrip().endswith("; reinstalled")
    entry = ws.distributions()["shot-020-anim"].entry_points
    assert {(e.group, e.name) for e in entry} >= {
        ("pipl.commands", "open-scene"),
        ("pipl_pipe.task", "shot-020-anim"),
    }
    # one task per workspace: with two, the command asks which one
    two = Runner().run(["open-scene"], env=env, check=False)
    assert two.returncode == 1 and "expected one task" in two.stderr
    one = Runner().run(["open-scene"], env={**env, "PIPL_TASK": "shot-010-anim"})
    assert "with 1 rig(s)" in one.stdout
    again = Runner().run(["create_task", "shot-020-anim", "generic"], env=env, check=False)
    assert again.returncode == 1 and "already a task of type 'shot-animation'" in again.stderr
    bad = Runner().run(["create_task", "shot-020-anim", "nope"], env=env, check=False)
    assert bad.returncode == 1
    assert "unknown task type 'nope': known types are generic, shot-animation" in bad.stderr


def test_a_new_rig_matches_the_task_requirement(facts, project, tmp_path):
    """The task requires the rig as a range, so a new rig is what a resolver (and CI's
    re-processing on qa) picks for it; ``publish_rig`` publishes one like the first."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        import run as cg_run
    finally:
        sys.path.remove(str(EXAMPLE))
    index = project.stage_index()
    with connect(project, "anonymous") as client:
        task = client.versions(index, "shot-010-anim", inherited=False)["0.1.0"]
    assert "chair-rig>=1.0" in task["requires_dist"]
    built = cg_run.publish_rig(project, "1.1.0", log=lambda _: None, workdir=tmp_path)
    assert built.assets[0].sha256 != facts["rig_scene"]  # a joint more
    with connect(project, "anonymous") as client:
        rigs = client.versions(index, "chair-rig", inherited=False)
    assert sorted(rigs) == ["1.0.0", "1.1.0"]
    assert "chair-model==1.0.0" in rigs["1.1.0"]["requires_dist"]
