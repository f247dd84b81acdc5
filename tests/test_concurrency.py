"""Concurrent edits lose nothing: real processes editing one file at the same time."""

from __future__ import annotations

import multiprocessing
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

from pipl.packl.create import create_packl
from pipl.project.secrets import Token, TokenCache
from pipl.workspace.area import list_areas
from pipl.workspace.workspace import create_workspace, remove_workspace
from tests.conftest import new_project
from tests.helpers import make_wheel, pipl_argv

N = 8


@pytest.fixture(scope="module")
def ws(project):
    space = create_workspace(project, "concurrent")
    yield space
    remove_workspace(space)


def _start_all(argvs: list[list[str]]) -> list[tuple[int, str, str]]:
    procs = [
        subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        results.append((proc.returncode, out, err))
    return results


def test_concurrent_packl_adds_keep_every_dependency(project, ws, owner, tmp_path):
    packl = create_packl(project, ws, "many-deps", "lib")
    wanted = [f"conc-dep-{i}" for i in range(N)]
    for name in wanted:
        owner.upload(project.stage_index(), make_wheel(tmp_path, name, "1.0"))

    results = _start_all(
        [
            pipl_argv(["packl", "add", name, "--packl", "many-deps", "-w", ws.name], project.root)
            for name in wanted
        ]
    )
    for code, out, err in results:
        assert code == 0, (out, err)
        assert "added" in out, out

    data = tomllib.loads((packl.path / "pyproject.toml").read_text())
    assert sorted(data["project"]["dependencies"][1:]) == wanted  # after pipl-pipe
    history = data["tool"]["pipl"]["history"]
    assert sorted(h["detail"] for h in history if h["action"] == "add") == wanted
    # the editable install's metadata ends up matching the file
    requires = " ".join(ws.distributions()["many-deps"].requires or [])
    assert all(name in requires for name in wanted)


def _put_token(path: str, user: str) -> None:
    TokenCache(Path(path)).put("http://index", Token(user, f"token-of-{user}", time.time() + 3600))


def test_concurrent_token_cache_writes_keep_every_token(tmp_path):
    path = tmp_path / "cache" / "tokens.json"
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_put_token, args=(str(path), f"u{i}")) for i in range(N)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    cache = TokenCache(path)
    assert cache.users("http://index") == sorted(f"u{i}" for i in range(N))
    assert cache.get("http://index", "u3").token == "token-of-u3"


def test_concurrent_workarea_registrations_keep_every_area(tmp_path):
    project = new_project(tmp_path / "areas")  # its server is not needed
    names = [f"elsewhere{i}" for i in range(4)]
    results = _start_all(
        [
            pipl_argv(["work", "create-area", name, "--path", str(tmp_path / name)], project.root)
            for name in names
        ]
    )
    for code, out, err in results:
        assert code == 0, (out, err)
    registered = {area.name: area.path for area in list_areas(project)}
    for name in names:
        assert registered[name] == tmp_path / name
