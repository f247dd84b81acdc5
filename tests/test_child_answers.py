"""Workspace Python answers pipl through a result file: packl code printing on stdout, on
import or while it works, breaks no command, and what it prints still reaches the user."""

import json
import os
import subprocess
import sys

import pytest

from pipl.assets.project_store import project_store
from pipl.errors import PacklError
from pipl.packl.create import create_packl
from pipl.product.process import run_process
from pipl.uv import Uv
from pipl.workspace.workspace import EDIT_EXTRA, create_workspace, remove_workspace
from tests.helpers import run

ENTRY_POINTS = """
[project.entry-points."pipl_pipe.envset"]
chatty = "chatty_010.env:ENVSET"

[project.entry-points."pipl.process"]
chatty-010 = "chatty_010.work:process"
"""
ENV_MODULE = """print("chatty: envset imported")
ENVSET = {"set": {"CHATTY": "yes"}}
"""
WORK_MODULE = """import os
print("chatty: processing imported")


def process(outdir):
    print("chatty: rendering 1 frame")
    if os.environ.get("CHATTY_FAIL"):
        raise ValueError("the renderer crashed")
    (outdir / "frame.txt").write_text("frame 1\\n")
    return {"name": "chatty-010-frames", "type": "render"}
"""


@pytest.fixture(scope="module")
def ws(project):
    """A workspace with packl chatty-010, whose envset and processing both print."""
    space = create_workspace(project, "chatty")
    packl = create_packl(project, space, "chatty-010", "lib")
    with (packl.path / "pyproject.toml").open("a") as fh:
        fh.write(ENTRY_POINTS)
    module = packl.path / "chatty_010"
    (module / "__init__.py").write_text('print("chatty: package imported")\n')
    (module / "env.py").write_text(ENV_MODULE)
    (module / "work.py").write_text(WORK_MODULE)
    Uv().install(
        space.python,
        [],
        editables=[packl.path],
        index_url=space.index_url(project),
        extra=EDIT_EXTRA,
    )
    yield space
    remove_workspace(space)


def pipl(project, *args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "pipl.cli", "--project", str(project.root), *args],
        capture_output=True,
        text=True,
        **kwargs,
    )


def test_packl_process(project, ws, capfd):
    capfd.readouterr()
    result = run(
        ["packl", "process", "-p", "chatty-010", "--no-publish", "-w", "chatty"],
        project=project.root,
    )
    assert result.exit_code == 0, result.output
    assert "built chatty-010-frames with 1 asset(s): frame (file," in result.stdout
    printed = capfd.readouterr()
    # the processing's own output reached the user, on stderr, apart from pipl's output
    assert "chatty: processing imported" in printed.err
    assert "chatty: rendering 1 frame" in printed.err
    assert "chatty" not in printed.out


def test_processing_that_raises_names_the_error(project, ws, capfd, monkeypatch):
    monkeypatch.setenv("CHATTY_FAIL", "1")
    with pytest.raises(
        PacklError, match="processing of chatty-010 failed: ValueError: the renderer crashed"
    ):
        run_process(project, ws, "chatty-010", store=project_store(project))
    # the user's traceback is theirs to read
    assert "Traceback" in capfd.readouterr().err


def test_work_env(project, ws, capfd):
    capfd.readouterr()
    result = run(["work", "env", "-w", "chatty", "--json"], project=project.root)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["data"]["env"] == {"CHATTY": "yes"}
    assert "chatty: envset imported" in capfd.readouterr().err


def test_work_run(project, ws):
    done = pipl(
        project,
        "work",
        "run",
        "-w",
        "chatty",
        "--",
        "python",
        "-c",
        "import os; print(os.environ['CHATTY'])",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "yes\n"  # the command's output only
    assert "chatty: envset imported" in done.stderr


def test_work_shell(project, ws):
    done = pipl(
        project,
        "work",
        "shell",
        "chatty",
        input='echo "chatty=$CHATTY"\nexit 0\n',
        env={**os.environ, "SHELL": "/bin/bash"},
    )
    assert done.returncode == 0, done.stderr
    assert "chatty=yes" in done.stdout
    assert "chatty: envset imported" in done.stderr
