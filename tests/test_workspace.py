"""Workareas and workspaces: real uv virtualenvs installing from the project index."""

import json
import os
import subprocess
import sys

import pytest

from pipl.errors import ProjectError, UsageError, WorkspaceError
from pipl.packl.create import create_packl
from pipl.workspace.area import create_area, list_areas
from pipl.workspace.shell import commands, run_in, spawn_shell, workspace_env
from pipl.workspace.workspace import (
    clone_workspace,
    create_workspace,
    find_workspace,
    list_workspaces,
    remove_workspace,
)
from tests.helpers import fails, run


@pytest.fixture(scope="module")
def ws(project):
    """A workspace with a task packl in it."""
    space = create_workspace(project, "anim")
    create_packl(project, space, "shot-010", "task")
    return space


def test_workspace_installs_from_the_first_stage(project, ws):
    assert ws.python.is_file()
    index_url = project.simple_url()
    assert index_url in (ws.path / "uv.toml").read_text()
    assert index_url in (ws.venv / "pip.conf").read_text()
    assert "pipl-pipe" in ws.distributions()  # resolved from the base index, offline
    out = subprocess.run(
        [ws.python, "-c", "import sys; print(sys.prefix)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == str(ws.venv)


def test_create_with_requirements_and_list(project, ws):
    extra = create_workspace(project, "lookdev", requirements=["pipl-pipe"])
    try:
        assert "pipl-pipe" in extra.distributions()
        listed = json.loads(run(["work", "list", "--json"], project=project.root).output)
        by_name = {w["name"]: w for w in listed["data"]}
        assert by_name["anim"]["packls"] == ["shot-010"]
        assert by_name["lookdev"]["stage"] == "dev"
    finally:
        remove_workspace(extra)
    assert not extra.path.exists()


def test_workspace_errors_leave_nothing(project, ws):
    with pytest.raises(WorkspaceError, match="exists already"):
        create_workspace(project, "anim")
    with pytest.raises(UsageError, match="invalid workspace name"):
        create_workspace(project, "../escape")
    with pytest.raises(ProjectError, match="unknown stage"):
        create_workspace(project, "x", stage="nope")
    with pytest.raises(WorkspaceError, match="no workarea 'nope'"):
        create_workspace(project, "x", area="nope")
    from pipl.errors import PacklError

    with pytest.raises(PacklError, match="no match on the project index"):
        create_workspace(project, "broken", requirements=["not-on-the-index"])
    names = {w.name for w in list_workspaces(project)}
    assert "broken" not in names and "x" not in names
    assert not (ws.path.parent / "broken").exists()


def test_workareas_and_lookup(project, tmp_path):
    area = create_area(project, "fx")
    away = create_area(project, "remote", tmp_path / "elsewhere")
    assert {a.name for a in list_areas(project)} >= {"default", "fx", "remote"}
    assert (away.path / "pipl-workarea.toml").is_file()
    one = create_workspace(project, "sim", area="fx")
    two = create_workspace(project, "sim", area="remote")
    try:
        assert one.path.parent == area.path
        with pytest.raises(WorkspaceError, match="ambiguous"):
            find_workspace(project, "sim")
        assert find_workspace(project, "remote/sim").path == two.path
        assert find_workspace(project, start=two.path / "packls").path == two.path
    finally:
        remove_workspace(one)
        remove_workspace(two)
    with pytest.raises(WorkspaceError, match="exists already"):
        create_area(project, "fx")


def test_finding_no_workspace(project, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkspaceError, match="no workspace at or above"):
        find_workspace(project)
    fails(run(["work", "commands"], project=project.root), 7, "no workspace at or above")
    fails(run(["work", "list"]), 3, "no pipl project at or above")


def test_commands_are_listed_and_run(project, ws, capfd):
    by_name = {c.name: c for c in commands(ws)}
    cmd = by_name["shot-010-info"]
    assert (cmd.packl, cmd.installed) == ("shot-010", True)
    assert by_name["create_task"].packl == "pipl-pipe"  # the framework's workspace command
    assert run_in(project, ws, ["shot-010-info"]) == 0
    assert "shot-010 0.1.0" in capfd.readouterr().out
    code = run_in(
        project,
        ws,
        [sys.executable, "-c", "import os, sys; print(os.environ['PIPL_WORKSPACE']); sys.exit(7)"],
    )
    assert code == 7 and str(ws.path) in capfd.readouterr().out
    with pytest.raises(WorkspaceError, match="not found in workspace 'anim'.*shot-010-info"):
        run_in(project, ws, ["no-such-command"])
    listing = json.loads(
        run(["work", "commands", "-w", "anim", "--json"], project=project.root).output
    )
    assert "shot-010-info" in {c["name"] for c in listing["data"]}


def test_cli_run_passes_the_exit_code(project, ws):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipl.cli",
            "--project",
            str(project.root),
            "work",
            "run",
            "-w",
            "anim",
            "--",
            "python",
            "-c",
            "import sys; sys.exit(3)",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 3, proc.stderr


def test_shell_has_the_workspace_environment(project, ws, tmp_path):
    env = workspace_env(project, ws, base={"PATH": "/usr/bin"})
    assert env["PATH"].split(os.pathsep)[0] == str(ws.bin_dir)
    assert env["PIP_INDEX_URL"] == env["UV_DEFAULT_INDEX"] == project.simple_url()
    fake = tmp_path / "fake-shell"
    fake.write_text('#!/bin/sh\necho "$PIPL_WORKSPACE|$VIRTUAL_ENV|$PS1" > "$0.out"\n')
    fake.chmod(0o755)
    assert spawn_shell(project, ws, shell=str(fake)) == 0
    workspace, venv, prompt = (tmp_path / "fake-shell.out").read_text().strip().split("|")
    assert (workspace, venv) == (str(ws.path), str(ws.venv))
    assert prompt.startswith(f"(pipl {project.name}/anim)")


def test_interactive_bash_shell(project, ws):
    proc = subprocess.run(
        [sys.executable, "-m", "pipl.cli", "--project", str(project.root), "work", "shell", "anim"],
        input='shot-010-info\necho "ws=$PIPL_WORKSPACE"\nexit 4\n',
        capture_output=True,
        text=True,
        env={**os.environ, "SHELL": "/bin/bash"},
    )
    assert proc.returncode == 4, proc.stderr
    assert "shot-010 0.1.0" in proc.stdout
    assert f"ws={ws.path}" in proc.stdout


def test_clone_keeps_versions_and_copies_packls(project, ws):
    copy = clone_workspace(project, ws, "anim-copy")
    try:
        assert (copy.packls_dir / "shot-010" / "pyproject.toml").is_file()
        src = {n: d.version for n, d in ws.distributions().items()}
        dst = {n: d.version for n, d in copy.distributions().items()}
        assert src == dst
        # the copy edits its own snapshot of the packl, not the source's
        direct = json.loads(copy.distributions()["shot-010"].read_text("direct_url.json"))
        assert str(copy.packls_dir / "shot-010") in direct["url"]
        assert "shot-010-info" in [c.name for c in commands(copy)]
    finally:
        remove_workspace(copy)


def test_cli_remove_asks_and_names_packls(project):
    create_workspace(project, "scratch")
    result = run(["work", "remove", "scratch"], project=project.root, input="n\n")
    assert result.exit_code == 1 and "Remove workspace default/scratch" in result.output
    assert find_workspace(project, "scratch")
    assert run(["work", "remove", "scratch", "--yes"], project=project.root).exit_code == 0
    fails(run(["work", "remove", "scratch", "-y"], project=project.root), 7, "no workspace")
