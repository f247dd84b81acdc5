"""Packls: templates, dependencies from the index, bumps, builds and publishing."""

import json
import subprocess
import sys
import tomllib

import pytest

from pipl.errors import Conflict, PacklError, ServerNotRunning, UsageError
from pipl.index.wheelpack import pack_installed
from pipl.packl import deps
from pipl.packl.build import build, publish
from pipl.packl.create import create_packl
from pipl.packl.packl import find_packl
from pipl.packl.templates import available_kinds
from pipl.packl.version import bump_packl
from pipl.uv import Uv
from pipl.workspace.workspace import create_workspace, remove_workspace
from tests.conftest import new_project
from tests.helpers import fails, run

KIND_GROUPS = {
    "lib": set(),
    "task": {"console_scripts", "pipl.commands", "pipl_pipe.task"},
    "product": {"pipl_pipe.product"},
    "asset": {"pipl_pipe.asset_type"},
    "segment": {"pipl_pipe.segment"},
    "pipeline": {"pipl_pipe.pipeline", "pipl.process"},
    "envset": {"pipl_pipe.envset"},
}


@pytest.fixture(scope="module")
def ws(project):
    space = create_workspace(project, "packls")
    yield space
    remove_workspace(space)


def test_every_kind_has_a_template():
    assert set(available_kinds()) == set(KIND_GROUPS)


@pytest.mark.parametrize("kind", sorted(KIND_GROUPS))
def test_create_each_kind(project, ws, kind):
    packl = create_packl(project, ws, f"demo-{kind}", kind, description='Says "hi"')
    pp = packl.pyproject
    assert pp.kind == kind
    assert pp.version == "0.1.0"
    assert pp.dependencies[0].startswith("pipl-pipe>=")
    assert set(pp.entry_points) == KIND_GROUPS[kind]
    [entry] = pp.history
    assert entry["action"] == "create" and entry["by"] and entry["at"].endswith("Z")
    assert ws.distributions()[f"demo-{kind}"].version == "0.1.0"
    # the test skeleton passes in the workspace
    module = f"demo_{kind}"
    out = subprocess.run(
        [ws.python, packl.path / "tests" / f"test_{module}.py"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr


def test_create_errors(project, ws):
    with pytest.raises(UsageError, match="unknown packl kind 'widget'"):
        create_packl(project, ws, "w", "widget")
    with pytest.raises(UsageError, match="invalid packl name"):
        create_packl(project, ws, "-bad-", "lib")
    create_packl(project, ws, "Clash_Name", "lib", install=False)
    with pytest.raises(PacklError, match="once normalized"):
        create_packl(project, ws, "clash-name", "lib")
    fails(
        run(["packl", "create", "x", "--kind", "nope", "-w", "packls"], project=project.root),
        2,
        "unknown packl kind",
    )


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        ("x" * 300, ["invalid packl name 'xxxx", "(300 characters)", "at most 100 characters"]),
        ("import", ["module name 'import'", "Python keyword"]),
        ("Class", ["module name 'class'", "Python keyword"]),
        ("json", ["module name 'json'", "standard library"]),
    ],
)
def test_packl_names_that_cannot_be_a_module_or_a_file(project, ws, name, needles):
    before = sorted(ws.packls_dir.iterdir())
    fails(
        run(["packl", "create", name, "--kind", "lib", "-w", "packls"], project=project.root),
        2,
        *needles,
    )
    assert sorted(ws.packls_dir.iterdir()) == before
    fails(
        run(["packl", "show", "-p", "y" * 300, "-w", "packls"], project=project.root), 2, "at most"
    )


def test_process_refuses_a_path_as_task_name(project, ws):
    around = sorted(ws.path.parent.iterdir())
    for task in ("../../x", "../x", "y" * 300):
        fails(
            run(["packl", "process", "-p", task, "-w", "packls"], project=project.root),
            2,
            "invalid task name",
        )
    assert sorted(ws.path.parent.iterdir()) == around  # nothing made beside the workspace
    assert not (ws.path / "products").exists()


def test_name_taken_on_the_index(project, ws, owner):
    from tests.helpers import make_wheel

    owner.upload(project.stage_index("prod"), make_wheel(ws.path / "tmp", "taken-name", "1.0"))
    with pytest.raises(PacklError, match=r"already exists on the project index"):
        create_packl(project, ws, "Taken.Name", "lib", client=owner)
    # the lookup ran beside the render and install: both are undone
    assert not (ws.packls_dir / "Taken.Name").exists()
    assert "taken-name" not in ws.distributions()
    # a distribution of that name already installed is kept (the lookup goes first)
    Uv().install(ws.python, ["taken-name==1.0"], index_url=ws.index_url(project))
    with pytest.raises(PacklError, match=r"already exists on the project index"):
        create_packl(project, ws, "taken-name", "lib", client=owner)
    assert ws.distributions()["taken-name"].version == "1.0"
    Uv().uninstall(ws.python, ["taken-name"])


def test_broken_pyproject_is_named(project, ws):
    packl = create_packl(project, ws, "breakable", "lib", install=False)
    (packl.path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(PacklError, match="breakable/pyproject.toml is not valid TOML"):
        find_packl(ws, "breakable").pyproject  # noqa: B018 - loading is the test
    fails(
        run(["packl", "show", "-p", "breakable", "-w", "packls"], project=project.root),
        8,
        "not valid TOML",
    )
    (packl.path / "pyproject.toml").write_text('[project]\nname = "breakable"\n')
    with pytest.raises(PacklError, match="version must be a static string"):
        find_packl(ws, "breakable").pyproject  # noqa: B018


def test_add_and_remove_dependencies(project, ws, owner):
    lib = create_packl(project, ws, "rig-lib", "lib")
    publish(project, ws, lib, owner)
    task = create_packl(project, ws, "rig-task", "task")
    before = (task.path / "pyproject.toml").read_bytes()

    with pytest.raises(
        PacklError,
        match=r"no match on the project index .*/dev/\+simple/.*"
        "nowhere-pkg",
    ):
        deps.add(project, ws, task, "nowhere-pkg>=1")
    assert (task.path / "pyproject.toml").read_bytes() == before  # nothing half-written
    with pytest.raises(UsageError, match="cannot depend on itself"):
        deps.add(project, ws, task, "rig_task")
    with pytest.raises(UsageError, match="invalid requirement"):
        deps.add(project, ws, task, "rig lib >")

    change = deps.add(project, ws, task, "rig-lib>=0.1")
    assert change.action == "added"
    assert "rig-lib>=0.1" in task.pyproject.dependencies
    assert "rig-lib>=0.1" in ws.distributions()["rig-task"].requires
    assert deps.add(project, ws, task, "rig-lib>=0.1.0").action == "changed"
    deps.add(project, ws, task, "pipl-pipe", extra="edit")
    assert task.pyproject.optional_dependencies == {"edit": ["pipl-pipe"]}
    assert [h["action"] for h in task.pyproject.history] == ["create", "add", "add", "add"]

    removed = deps.remove(project, ws, task, "rig_lib")
    assert removed.requirement == "rig-lib>=0.1.0"
    assert "rig-lib" not in " ".join(task.pyproject.dependencies)
    assert removed.uninstalled is False  # rig-lib is a packl of this workspace
    with pytest.raises(PacklError, match="not a dependency"):
        deps.remove(project, ws, task, "rig-lib")
    assert task.pyproject.history[-1]["action"] == "remove"


def test_add_editable_external_source(project, ws, tmp_path):
    other = create_workspace(project, "external")
    try:
        ext = create_packl(project, other, "ext-tools", "lib", install=False)
        task = create_packl(project, ws, "uses-ext", "task")
        change = deps.add(project, ws, task, "", editable=ext.path)
        assert change.requirement == "ext-tools"
        direct = json.loads(ws.distributions()["ext-tools"].read_text("direct_url.json"))
        assert direct["dir_info"]["editable"] is True
        assert "editable" in task.pyproject.history[-1]["detail"]
        with pytest.raises(UsageError, match="no pyproject.toml"):
            deps.add(project, ws, task, "", editable=tmp_path)
        removed = deps.remove(project, ws, task, "ext-tools")
        assert removed.uninstalled is True
        assert "ext-tools" not in ws.distributions()
    finally:
        remove_workspace(other)


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        ("major", "1.0.0"),
        ("minor", "0.2.0"),
        ("patch", "0.1.1"),
        ("pre", "0.1.1a0"),
        ("post", "0.1.0.post0"),
        ("dev", "0.1.1.dev0"),
    ],
)
def test_bump_is_recorded_and_reinstalled(project, ws, part, expected):
    packl = create_packl(project, ws, f"bump-{part}", "lib")
    assert bump_packl(project, ws, packl, part) == ("0.1.0", expected)
    assert packl.pyproject.version == expected
    assert packl.pyproject.history[-1]["detail"] == f"0.1.0 -> {expected} ({part})"
    assert ws.distributions()[f"bump-{part}"].version == expected


def test_build_is_reproducible_and_publish_is_idempotent(project, ws, owner):
    packl = create_packl(project, ws, "repro", "lib")
    first = build(project, ws, packl)
    assert sorted(p.suffix for p in first.files) == [".gz", ".whl"]
    hashes = {p.name: p.read_bytes() for p in first.files}
    again = build(project, ws, packl)
    assert {p.name: p.read_bytes() for p in again.files} == hashes

    published = publish(project, ws, packl, owner)
    assert [u.uploaded for u in published.uploads] == [True, True]
    assert published.index == project.stage_index()
    assert [u.uploaded for u in publish(project, ws, packl, owner).uploads] == [False, False]
    assert publish(project, ws, packl, owner, stage="qa").index == project.stage_index("qa")

    # a changed file under a version a non-volatile index holds: refused, bump asked for
    wheel = next(p for p in first.files if p.suffix == ".whl")
    owner.upload(project.base_index, wheel)
    (packl.path / "repro" / "__init__.py").write_text(
        "# changed\n__version__ = '0.1.0'\ndef check():\n    return True\n"
    )
    changed = next(p for p in build(project, ws, packl).files if p.suffix == ".whl")
    with pytest.raises(Conflict, match="bump the version of repro"):
        owner.upload(project.base_index, changed)


def test_published_task_installs_into_a_fresh_env_with_its_lib(project, ws, owner, tmp_path):
    lib = create_packl(project, ws, "fresh-lib", "lib")
    task = create_packl(project, ws, "fresh-task", "task")
    publish(project, ws, lib, owner)
    deps.add(project, ws, task, "fresh-lib")
    publish(project, ws, task, owner)
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", env], check=True)
    # plain pip (pipl's own, aimed at the new environment) from the project index
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            env / "bin" / "python",
            "install",
            "--quiet",
            "--index-url",
            project.simple_url(),
            "fresh-task",
        ],
        check=True,
    )
    out = subprocess.run(
        [env / "bin" / "fresh-task-info"], capture_output=True, text=True, check=True
    ).stdout
    assert "fresh-task 0.1.0" in out and "requires fresh-lib" in out


def test_cli_packl_flow(project, ws):
    def cli(*args, input=None):
        return run([*args, "-w", "packls"], project=project.root, input=input)

    assert cli("packl", "create", "cli-task", "--kind", "task").exit_code == 0
    shown = json.loads(cli("packl", "show", "-p", "cli-task", "--json").output)["data"]
    assert shown["kind"] == "task" and shown["installed"] == "0.1.0"
    result = cli("packl", "bump", "minor", "--packl", "cli-task")
    assert "0.1.0 -> 0.2.0" in result.output
    result = cli("packl", "publish", "-p", "cli-task")
    assert result.exit_code == 0 and "uploaded" in result.output
    assert "identical, skipped" in cli("packl", "publish", "-p", "cli-task").output
    fails(
        cli("packl", "add", "absent-thing", "--packl", "cli-task"),
        8,
        "no match on the project index",
        "absent-thing",
    )
    fails(cli("packl", "show"), 8, "which packl?")
    listing = json.loads(cli("packl", "list", "--json").output)["data"]
    assert "cli-task" in {p["name"] for p in listing}


def test_workspaces_and_packls_need_the_server(tmp_path, ws):
    offline = new_project(tmp_path / "stopped")
    with pytest.raises(ServerNotRunning, match="install pip into the workspace: .* does not"):
        create_workspace(offline, "w")  # its pip comes from the project index
    assert not (offline.root / "workareas" / "default" / "w").exists()
    with pytest.raises(ServerNotRunning, match="does not answer"):
        create_packl(offline, ws, "lonely", "lib")  # ws, installing from the stopped index
    assert not (ws.packls_dir / "lonely").exists()


def test_repacked_wheels_are_reproducible(tmp_path):
    one = pack_installed("pipl-pipe", tmp_path / "a")
    two = pack_installed("pipl-pipe", tmp_path / "b")
    assert one.read_bytes() == two.read_bytes()
    flit = pack_installed("flit_core", tmp_path / "c")
    assert flit.name.startswith("flit_core-")
    from pipl.errors import PiplError

    with pytest.raises(PiplError, match="not pure Python"):
        pack_installed("argon2-cffi-bindings", tmp_path / "d", module="_argon2_cffi_bindings")


def test_pyproject_history_is_toml_a_user_can_read(project, ws):
    packl = create_packl(project, ws, "readable", "task", install=False)
    data = tomllib.loads((packl.path / "pyproject.toml").read_text())
    assert data["tool"]["pipl"]["history"][0]["action"] == "create"
    assert data["project"]["scripts"] == {"readable-info": "readable.commands:info"}
