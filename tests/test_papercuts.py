"""Small things a newcomer trips over, each checked the way they would see it: the demo's
last words, CI job ids and messages, ``ci logs -f``, a bump that fails, Ctrl-C, typos,
``proj stop``, the dashboard's graph, ``python -m pipl``, type hints, shell completion."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from pipl.ci import db, outbox
from pipl.ci.runner import log_path
from pipl.errors import ServerNotRunning
from pipl.index.wheelpack import pack_installed
from pipl.packl.create import create_packl
from pipl.packl.version import bump_packl
from pipl.text import shorten
from pipl.uv import Uv
from pipl.workspace.workspace import create_workspace, remove_workspace
from tests.conftest import new_project
from tests.helpers import fails, run

ROOT = Path(__file__).resolve().parent.parent


# -- make demo --------------------------------------------------------------------------


def test_demo_gives_the_dashboard_address_only_while_it_answers():
    """The demo's server and runner stop when it exits (unless PIPL_DEMO_KEEP=1): the
    dashboard's address is printed only in the branch that keeps them running."""
    lines = (ROOT / "examples" / "demo.sh").read_text().splitlines()
    keep = 'if [ "${PIPL_DEMO_KEEP:-0}" = 1 ]; then'
    kept_from = lines.index(keep)
    kept_to = lines.index("else", kept_from)
    asked = [n for n, line in enumerate(lines) if "proj web" in line or "Dashboard:" in line]
    assert asked and all(kept_from < n < kept_to for n in asked), asked
    assert "stop now" in "\n".join(lines[kept_to:])  # and says so otherwise


def test_demo_environment_leaves_out_the_dev_group():
    """`make demo` syncs an environment of its own without the dev group (pytest,
    playwright, ruff, mypy...); `make test` and `make lint` keep theirs with it."""
    made = subprocess.run(
        ["make", "-n", "-B", "demo", "test", "lint"], cwd=ROOT, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    syncs = [line for line in made.stdout.splitlines() if " sync " in line]
    demo = [line for line in syncs if "UV_PROJECT_ENVIRONMENT=.venv-demo" in line]
    full = [line for line in syncs if "UV_PROJECT_ENVIRONMENT=.venv " in line]
    assert len(demo) == 1 and "--no-dev" in demo[0], syncs
    assert len(full) == 1 and "--no-dev" not in full[0], syncs
    runs = made.stdout.splitlines()
    assert any('PATH="' in r and ".venv-demo/bin" in r and "demo.sh" in r for r in runs), runs
    assert any(r.startswith(".venv/bin/python -m pytest") for r in runs), runs
    assert any(r.startswith(".venv/bin/mypy") for r in runs), runs


# -- CI jobs: ids, messages, logs --------------------------------------------------------


@pytest.fixture
def offline(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A project whose server is not running (its CI database works without it)."""
    return new_project(tmp_path / "cuts")


def _event(n: int, project: str = "cut-lib", version: str = "1.0") -> outbox.Event:
    return outbox.Event(
        id=n,
        index="cuts/dev",
        project=project,
        version=version,
        filename=f"{project.replace('-', '_')}-{version}-py3-none-any.whl",
        sha256=f"{n:064x}",
        serial=n,
        source="upload",
        recorded=time.time(),
    )


def _ended(conn, job_id: int, state: str, message: str) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        "UPDATE jobs SET state = 'running', started = ? WHERE id = ?", (time.time(), job_id)
    )
    assert db.finish(conn, job_id, state, message)


def test_job_ids_have_no_gaps_so_every_id_shows(offline):
    """An event recorded twice (a replay after a crash, two handlers) makes no second job,
    and uses up no id: ``ci list`` shows 1, 2, 3, each found by ``ci show``."""
    conn = db.open_db(offline.root)
    try:
        first = _event(1)
        for handler in ("wheel", "qa"):
            assert db.add_job(conn, handler=handler, rank=0, event=first, key="")
        for handler in ("wheel", "qa"):  # the same event again: nothing new
            assert not db.add_job(conn, handler=handler, rank=0, event=first, key="")
        assert db.add_job(conn, handler="qa", rank=0, event=_event(2, version="1.1"), key="")
    finally:
        conn.close()
    listed = json.loads(run(["ci", "list", "--json"], project=offline.root).output)["data"]
    assert [job["id"] for job in listed] == [1, 2, 3]
    for job in listed:
        shown = run(["ci", "show", str(job["id"])], project=offline.root)
        assert shown.exit_code == 0 and f"job:      {job['id']} " in shown.output


def test_shorten_cuts_between_words_with_an_ellipsis():
    text = "the release shot-010 0.2.0 waits for an approval by someone other than alice"
    assert shorten(text, 200) == text
    short = shorten(text, 40)
    assert short == "the release shot-010 0.2.0 waits for an…" and len(short) <= 40
    assert shorten(text, 38) == "the release shot-010 0.2.0 waits for…"  # not "a…"
    assert shorten("a " + "x" * 50, 20) == "a " + "x" * 17 + "…"  # one long word: cut in it
    assert shorten("line one\nline two, longer than it fits", 20) == "line one\nline two,…"


def test_ci_list_cuts_a_long_message_at_a_word(offline):
    message = (
        "held on qa: shot-010 0.2.0 waits for 1 more approval(s) by someone other than "
        "the uploader alice; approve it with pipl proj index review approve"
    )
    conn = db.open_db(offline.root)
    try:
        db.add_job(conn, handler="promote", rank=0, event=_event(1), key="")
        _ended(conn, 1, db.PASSED, message)
    finally:
        conn.close()
    out = run(["ci", "list"], project=offline.root).output
    row = next(line for line in out.splitlines() if line.startswith("1 "))
    cell = row.split("passed", 1)[1].split("s  ", 1)[1]  # after the TIME column
    assert cell.endswith("…") and message.startswith(cell[:-1]), cell
    assert message[len(cell) - 1] == " ", cell  # the cut falls between two words
    shown = run(["ci", "show", "1"], project=offline.root).output
    assert f"message:  {message}" in shown  # the whole message is there


def test_ci_logs_follow_ends_without_repeating_the_last_line(offline):
    """A job's log ends with its outcome; ``logs -f`` then says the job's state, without
    the message a second time. A message the log does not hold is still given."""
    conn = db.open_db(offline.root)
    try:
        db.add_job(conn, handler="qa", rank=0, event=_event(1), key="")
        db.add_job(conn, handler="wheel", rank=0, event=_event(1), key="")
        _ended(conn, 1, db.PASSED, "3 checks passed")
        _ended(conn, 2, db.FAILED, "timed out after 600s: see its log")
    finally:
        conn.close()
    for job_id, last in ((1, "== passed in 0.12s: 3 checks passed"), (2, "building the wheel")):
        log = log_path(offline, job_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"== qa of cut-lib 1.0\nrunning\n{last}\n")
    passed = run(["ci", "logs", "1", "-f"], project=offline.root)
    assert passed.exit_code == 0
    assert passed.output.count("3 checks passed") == 1, passed.output
    assert passed.stdout.endswith("== passed in 0.12s: 3 checks passed\n")
    assert passed.stderr.strip() == "job 1 qa: passed"
    failed = run(["ci", "logs", "2", "-f"], project=offline.root)
    assert failed.stderr.strip() == "job 2 wheel: failed timed out after 600s: see its log"


# -- packls: a failed bump, Ctrl-C in a build, a misspelt name -----------------------------


@pytest.fixture(scope="module")
def ws(project):  # type: ignore[no-untyped-def]
    space = create_workspace(project, "cuts")
    yield space
    remove_workspace(space)


def test_a_bump_that_cannot_reinstall_changes_nothing(project, ws, tmp_path):
    """The reinstall after a bump needs the index: when its server is down, the version
    and the history stay as they were, and the same bump works once it is back."""
    packl = create_packl(project, ws, "cut-bump", "lib")
    before = packl.pyproject_file.read_bytes()
    down = new_project(tmp_path / "down")  # ws installing from a server that is not running
    with pytest.raises(ServerNotRunning, match="does not answer"):
        bump_packl(down, ws, packl, "minor")
    assert packl.pyproject_file.read_bytes() == before
    assert ws.distributions()["cut-bump"].version == "0.1.0"
    assert bump_packl(project, ws, packl, "minor") == ("0.1.0", "0.2.0")
    assert ws.distributions()["cut-bump"].version == "0.2.0"


def test_ctrl_c_in_a_build_exits_130_and_leaves_no_partial_file(project, ws, monkeypatch):
    packl = create_packl(project, ws, "cut-build", "lib")

    def interrupted(self: Uv, source: Path, out_dir: Path, *, index_url: str) -> None:
        (out_dir / "cut_build-0.1.0.tar.gz").write_bytes(b"\x1f\x8b half an archive")
        raise KeyboardInterrupt  # what Python raises when Ctrl-C reaches it

    with monkeypatch.context() as patched:
        patched.setattr(Uv, "build", interrupted)
        result = run(["packl", "build", "-p", "cut-build", "-w", "cuts"], project=project.root)
    fails(result, 130, "interrupted")
    assert not packl.dist_dir.is_dir() or not any(packl.dist_dir.iterdir())
    built = run(["packl", "build", "-p", "cut-build", "-w", "cuts"], project=project.root)
    assert built.exit_code == 0, built.output
    names = sorted(p.name for p in packl.dist_dir.iterdir() if not p.name.startswith("."))
    assert names == ["cut_build-0.1.0-py3-none-any.whl", "cut_build-0.1.0.tar.gz"]
    assert not [p for p in packl.dist_dir.iterdir() if p.name.startswith(".building-")]


def test_ctrl_c_exits_130_from_a_real_signal(offline):
    """A real SIGINT to a ``pipl`` process waiting on something: exit 130, one line."""
    import signal

    ready = offline.root / "ready"
    script = (
        "import pathlib, sys, time\n"
        "import click\n"
        "from pipl.cli import cli\n"
        "@cli.command('cut-sleep')\n"
        "def cut_sleep():\n"
        f"    pathlib.Path({str(ready)!r}).touch()\n"
        "    time.sleep(60)\n"
        "sys.argv = ['pipl', 'cut-sleep']\n"
        "cli(prog_name='pipl')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (proc.returncode, err)
    assert err.strip() == "Error: interrupted (Ctrl-C)", err


def test_a_misspelt_packl_name_gets_a_suggestion(project, ws):
    create_packl(project, ws, "cut-shotlib", "lib", install=False)
    result = run(["packl", "show", "-p", "cut-shotlb", "-w", "cuts"], project=project.root)
    fails(result, 8, "no packl 'cut-shotlb'", "did you mean 'cut-shotlib'?")
    far = run(["packl", "show", "-p", "zzzz", "-w", "cuts"], project=project.root)
    fails(far, 8, "no packl 'zzzz'", "create it with")
    assert "did you mean" not in far.stderr


# -- stages, the server, the dashboard's graph ---------------------------------------------


def test_push_to_an_unknown_stage_lists_the_stages(project):
    result = run(["proj", "index", "push", "anything", "1.0", "--to", "qx"], project=project.root)
    fails(result, 3, "unknown stage 'qx'", "stages are dev, qa, prod")
    assert "--skip-stage" not in result.stderr


def test_the_graph_is_drawn_once_graphviz_is_installed(monkeypatch, tmp_path):
    """No graphviz: no picture, and that is not remembered; once ``dot`` is on PATH, the
    next request draws the graph."""
    from pipl.api.service.pipelines import _svg

    if shutil.which("dot") is None:
        pytest.skip("needs graphviz's dot")
    dot = f'digraph "cut-{os.getpid()}-{time.time()}" {{ a -> b }}'  # a graph not drawn yet
    monkeypatch.setenv("PATH", str(tmp_path))  # graphviz "not installed"
    assert _svg(dot) is None
    monkeypatch.undo()  # graphviz "installed"
    svg = _svg(dot)
    assert svg is not None and svg.startswith("<svg")


# -- python -m pipl, type hints, shell completion --------------------------------------------


def test_python_m_pipl_is_the_same_command_line():
    for args in (["--help"], ["proj", "stop", "--help"], ["--version"]):
        by_module = subprocess.run(
            [sys.executable, "-m", "pipl", *args], capture_output=True, text=True, check=True
        )
        by_script = subprocess.run([_pipl_script(), *args], capture_output=True, text=True)
        assert by_module.stdout == by_script.stdout and by_module.stdout
    helped = subprocess.run([sys.executable, "-m", "pipl", "--help"], capture_output=True)
    assert b"Usage: pipl [OPTIONS] COMMAND" in helped.stdout


def _wheel(backend: str, source: Path, out: Path) -> Path:
    """A wheel of ``source`` built by its build backend (module ``backend``), in-process."""
    code = f"import {backend} as b, sys; print(b.build_wheel(sys.argv[1]))"
    out.mkdir()
    built = subprocess.run(
        [sys.executable, "-c", code, str(out)], cwd=source, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    return out / built.stdout.split()[-1]


def test_both_distributions_ship_py_typed(tmp_path):
    pipl_wheel = _wheel("hatchling.build", ROOT, tmp_path / "pipl")
    pipe_wheel = _wheel("flit_core.buildapi", ROOT / "pipl_pipe", tmp_path / "pipe")
    assert "pipl/py.typed" in zipfile.ZipFile(pipl_wheel).namelist()
    assert "pipl_pipe/py.typed" in zipfile.ZipFile(pipe_wheel).namelist()
    # the pipl-pipe every project's base index carries, packed from the installed files
    packed = pack_installed("pipl-pipe", tmp_path / "packed")
    assert "pipl_pipe/py.typed" in zipfile.ZipFile(packed).namelist()


def _pipl_script() -> str:
    script = Path(sys.executable).with_name("pipl")
    assert script.is_file(), script
    return str(script)


def test_shell_completion_as_the_readme_shows_it():
    readme = (ROOT / "README.md").read_text()
    for shell in ("bash", "zsh", "fish"):
        assert f"_PIPL_COMPLETE={shell}_source pipl" in readme
    env = {**os.environ, "_PIPL_COMPLETE": "bash_source"}
    source = subprocess.run([_pipl_script()], env=env, capture_output=True, text=True)
    assert source.returncode == 0
    assert "complete -o nosort -F _pipl_completion pipl" in source.stdout
    # what the script asks for as you type `pipl proj st<TAB>`
    env = {**os.environ, "_PIPL_COMPLETE": "bash_complete", "COMP_WORDS": "pipl proj st"}
    env["COMP_CWORD"] = "2"
    answer = subprocess.run([_pipl_script()], env=env, capture_output=True, text=True)
    assert re.findall(r"plain,(\S+)", answer.stdout) == ["start", "status", "stop"]
