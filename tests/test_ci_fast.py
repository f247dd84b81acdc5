"""The fast path of CI: jobs forked from the prefork process, the settle window, builds
with flit_core in process. Each keeps the guarantees of the slow path it replaces."""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from ci_support import handled_index, run_until_idle, task_sdist

from pipl.ci import db, handlers, intake, outbox
from pipl.ci.runner import log_path
from pipl.index.session import connect
from pipl.packl import flit
from pipl.project.project import Project
from pipl.runner import Runner
from pipl.service import serve
from pipl.uv import uv_bin

PLUGIN = """
import os, time

class Parent:
    rank = 0
    per_file = True
    timeout = None
    def accepts(self, filename): return True
    def run(self, ctx):
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as fh:
            parent = fh.read().replace(b"\\0", b" ").decode()
        ctx.log("a line for the log")
        return (f"parent: {parent.strip()}; session leader: {os.getsid(0) == os.getpid()}; "
                f"token in env: {'PIPL_CI_TOKEN' in os.environ}; "
                f"client token: {ctx.client.token is not None}; cwd: {os.getcwd()}")

class Hangs(Parent):
    timeout = 2
    def run(self, ctx):
        time.sleep(600)
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    site = tmp_path / "plugins"
    (site / "fastplugin").mkdir(parents=True)
    (site / "fastplugin" / "__init__.py").write_text(PLUGIN)
    info = site / "fastplugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fastplugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[pipl.ci_handlers]\nparent = fastplugin:Parent\nhangs = fastplugin:Hangs\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))
    handlers.available.cache_clear()
    yield
    handlers.available.cache_clear()


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc")
def test_jobs_fork_from_the_prefork_process_with_log_session_and_timeout(ciproj, plugin, tmp_path):
    from helpers import make_wheel

    with connect(ciproj, "admin") as admin:
        ix = handled_index(admin, ciproj, "forked", ["parent", "hangs"])
    with connect(ciproj, "owner") as owner:
        owner.upload(ix, make_wheel(tmp_path / "w", "forked", "1.0"))
    jobs = {j.handler: j for j in run_until_idle(ciproj) if j.index == ix}
    fine, hangs = jobs["parent"], jobs["hangs"]
    assert fine.state == "passed", fine.message
    # a process of its own, forked from the prefork process, in a session of its own, in
    # its folder, without its token in the environment
    assert "-m pipl.ci.prefork" in fine.message
    assert "session leader: True; token in env: False; client token: True" in fine.message
    # the token reached the job through a 0600 file of its folder, which is gone
    assert not (ciproj.root / ".pipl/ci/jobs" / str(fine.id) / "token").exists()
    assert fine.message.endswith(f"cwd: {ciproj.root / '.pipl/ci/jobs' / str(fine.id)}")
    log = log_path(ciproj, fine.id).read_text()
    assert f"== pipl ci job {fine.id}: parent for forked 1.0" in log
    assert "a line for the log" in log and "== passed in" in log
    # the timeout still stops a forked job and everything in its session
    assert hangs.state == "failed" and "timed out after 2s" in hangs.message


def test_pushed_release_jobs_start_without_the_settle_window(ciproj, tmp_path):
    with connect(ciproj, "admin") as admin:
        out = handled_index(admin, ciproj, "pushed-to", ["promote"])
        src = handled_index(admin, ciproj, "pushed-from", ["qa", "promote"], promote_to=out)
    with connect(ciproj, "owner") as owner:
        owner.upload(src, task_sdist(tmp_path, "pushed-task", "0.1.0"))
    jobs = {(j.index, j.handler): j for j in run_until_idle(ciproj) if j.project == "pushed-task"}
    uploaded, pushed = jobs[src, "qa"], jobs[out, "promote"]
    assert uploaded.started - uploaded.created >= intake.SETTLE  # an upload settles
    assert pushed.state == "passed", pushed.message
    assert pushed.started - pushed.created < intake.SETTLE  # a push arrives whole


def _wheel_of(src: Path, out: Path) -> Path:
    Runner().run(
        [
            uv_bin(),
            "build",
            "--wheel",
            "--no-build-isolation",
            "--python",
            sys.executable,
            "--out-dir",
            out,
            src,
        ]
    )
    return next(out.glob("*.whl"))


def test_qa_of_an_upload_starts_once_its_wheel_follows_its_sdist_not_before(ciproj, tmp_path):
    with connect(ciproj, "admin") as admin:
        ix = handled_index(admin, ciproj, "settled", ["qa"])
    sdist = task_sdist(tmp_path, "settled-task", "0.1.0")
    wheel = _wheel_of(tmp_path / "src-settled-task-0.1.0", tmp_path / "wheel")
    stop = threading.Event()
    serving = threading.Thread(target=serve, args=(ciproj,), kwargs={"stop": stop})
    serving.start()
    try:
        with connect(ciproj, "owner") as owner:
            owner.upload(ix, sdist)
            time.sleep(0.3)  # the runner has queued QA of the sdist by now
            owner.upload(ix, wheel)
        conn = db.open_db(ciproj.root)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            qa = [j for j in db.release_jobs(conn, ix, "settled-task", "0.1.0")]
            if qa and qa[0].state in db.DONE:
                break
            time.sleep(0.05)
        conn.close()
    finally:
        stop.set()
        serving.join()
    job = qa[0]
    arrived = {e.filename: e.recorded for e in _events(ciproj, ix)}
    assert job.state == "passed", job.message
    # it did not start before the wheel was there, and tested the wheel...
    assert job.started >= arrived[wheel.name]
    assert f"tox on {wheel.name}" in job.message
    # ...and did not wait the rest of the settle window once it was
    assert job.started - job.created < intake.SETTLE


def _events(project: Project, index: str) -> list[outbox.Event]:
    conn = outbox.connect(outbox.ci_dir(project.root))
    try:
        return [e for e in outbox.pending_events(conn, 100_000) if e.index == index] + [
            outbox.Event(*row)
            for row in conn.execute(
                "SELECT id, ix, project, version, filename, sha256, serial, source, recorded "
                "FROM events WHERE ix = ? AND taken = 1",
                (index,),
            )
        ]
    finally:
        conn.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_wheel_handler_builds_a_packl_in_process_the_same_bytes_as_uv(ciproj, tmp_path):
    with connect(ciproj, "admin") as admin:
        ix = handled_index(admin, ciproj, "wheels", ["wheel"])
    sdist = task_sdist(tmp_path, "static-task", "0.1.0")
    with connect(ciproj, "owner") as owner:
        owner.upload(ix, sdist)
    [job] = [j for j in run_until_idle(ciproj) if j.index == ix and j.project == "static-task"]
    assert job.state == "passed", job.message
    assert f"with flit_core {flit.version()} in process" in log_path(ciproj, job.id).read_text()
    with connect(ciproj, "anonymous") as anon:
        [link] = [
            lk for lk in anon.links(ix, "static-task", "0.1.0") if lk.basename.endswith(".whl")
        ]
    # uv building the same sdist (reproducibly, with the same flit_core) makes the same file
    env = {**os.environ, "SOURCE_DATE_EPOCH": flit.SOURCE_DATE_EPOCH}
    Runner().run(
        [
            uv_bin(),
            "build",
            "--wheel",
            "--no-build-isolation",
            "--python",
            sys.executable,
            "--out-dir",
            tmp_path / "uv",
            sdist,
        ],
        env=env,
    )
    assert link.sha256 == _sha(tmp_path / "uv" / link.basename)


DYNAMIC_PYPROJECT = """\
[build-system]
requires = ["flit_core>=3.12,<5"]
build-backend = "flit_core.buildapi"

[project]
name = "dynamic-task"
dynamic = ["version", "description"]
"""


def test_wheel_handler_builds_an_sdist_that_needs_its_code_with_uv(ciproj, tmp_path):
    src = tmp_path / "dyn"
    (src / "dynamic_task").mkdir(parents=True)
    (src / "pyproject.toml").write_text(DYNAMIC_PYPROJECT)
    (src / "dynamic_task" / "__init__.py").write_text('"""Read by flit."""\n__version__ = "0.3"\n')
    assert not flit.applies(src)  # flit_core would import the module for its metadata
    Runner().run(
        [
            uv_bin(),
            "build",
            "--sdist",
            "--no-build-isolation",
            "--python",
            sys.executable,
            "--out-dir",
            tmp_path / "dist",
            src,
        ]
    )
    with connect(ciproj, "admin") as admin:
        ix = handled_index(admin, ciproj, "wheels-dyn", ["wheel"])
    with connect(ciproj, "owner") as owner:
        owner.upload(ix, next((tmp_path / "dist").glob("*.tar.gz")))
    [job] = [j for j in run_until_idle(ciproj) if j.index == ix]
    assert job.state == "passed", job.message
    log = log_path(ciproj, job.id).read_text()
    assert f"$ {uv_bin()} build --wheel" in log and "in process" not in log
    with connect(ciproj, "anonymous") as anon:
        names = [lk.basename for lk in anon.links(ix, "dynamic-task", "0.3")]
    assert "dynamic_task-0.3-py2.py3-none-any.whl" in names


@pytest.mark.parametrize(
    ("change", "applies"),
    [
        (lambda t: t, True),
        (lambda t: t.replace('"flit_core>=3.12,<5"', '"flit_core<3"'), False),
        (lambda t: t.replace('"flit_core>=3.12,<5"', '"flit_core", "tomli"'), False),
        (lambda t: t.replace("flit_core.buildapi", "setuptools.build_meta"), False),
        (lambda t: t.replace('version = "1.0"\n', 'dynamic = ["version"]\n'), False),
        (lambda t: t.replace('description = "d"\n', ""), False),
    ],
)
def test_flit_builds_in_process_only_what_it_builds_the_same(tmp_path, change, applies):
    src = tmp_path / "src"
    (src / "demo_x").mkdir(parents=True)
    text = (
        '[build-system]\nrequires = ["flit_core>=3.12,<5"]\n'
        'build-backend = "flit_core.buildapi"\n\n'
        '[project]\nname = "demo-x"\nversion = "1.0"\ndescription = "d"\n'
    )
    (src / "pyproject.toml").write_text(change(text))
    (src / "demo_x" / "__init__.py").write_text('"""Demo."""\n__version__ = "1.0"\n')
    before = os.environ.get("SOURCE_DATE_EPOCH")
    assert flit.applies(src) is applies
    if applies:
        first = flit.build(src, tmp_path / "a")
        again = flit.build(src, tmp_path / "b")
        assert [p.name for p in first] == ["demo_x-1.0.tar.gz", "demo_x-1.0-py2.py3-none-any.whl"]
        assert [_sha(p) for p in first] == [_sha(p) for p in again]  # reproducible
        assert os.environ.get("SOURCE_DATE_EPOCH") == before  # the environment is restored


def test_a_dead_prefork_process_stops_its_jobs_and_takes_no_more(ciproj, plugin, tmp_path):
    """Nobody reports the end of a job whose prefork process died: its job is stopped and
    ends (killed); the prefork takes no more jobs (the runner starts them in new
    interpreters)."""
    import json
    import signal
    import subprocess

    from pipl.ci.handlers import CiError
    from pipl.ci.prefork import Prefork

    env = dict(os.environ)
    pf = Prefork(env, tmp_path)
    folder = tmp_path / "job"
    folder.mkdir()
    spec = {
        "job_id": 1,
        "handler": "hangs",
        "project_root": str(ciproj.root),
        "index": "cip/dev",
        "project": "nothing",
        "version": "1.0",
        "filename": "nothing-1.0.tar.gz",
        "sha256": "0" * 64,
        "index_config": {},
        "workdir": str(folder / "work"),
        "attempt": 1,
    }
    (folder / "spec.json").write_text(json.dumps(spec))
    try:
        job = pf.start(folder / "spec.json", folder / "log", folder, env)
        with pytest.raises(subprocess.TimeoutExpired, match="job"):  # it runs
            job.wait(timeout=0.5)
        os.kill(pf.proc.pid, signal.SIGKILL)
        assert job.wait(timeout=10) == -signal.SIGKILL
        assert not pf.compatible(env)
        with pytest.raises(CiError, match="prefork process"):
            pf.start(folder / "spec.json", folder / "log", folder, env)
    finally:
        pf.close()
    assert "== pipl ci job 1: hangs for nothing 1.0" in (folder / "log").read_text()


PROBE = """
import os, sys
print(f"parent {os.getppid()} argv {sys.argv[1:]} X={os.environ.get('X')} "
      f"preloaded {'fastprobe' in sys.modules} cwd {os.getcwd()}")
sys.exit(int(sys.argv[1]))
"""


def test_preloaded_runner_runs_python_m_tools_in_a_fork_of_the_helper(tmp_path, monkeypatch):
    from pipl.ci import prefork
    from pipl.errors import CommandError

    (tmp_path / "fastprobe.py").write_text(PROBE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(prefork, "PRELOADED_MAIN", ("tox", "fastprobe"))
    helper = prefork.Helper()
    runner = prefork.PreloadedRunner(helper)
    argv = [sys.executable, "-m", "fastprobe"]
    done = runner.run([*argv, "0"], env={"X": "1"}, cwd=tmp_path, check=False)
    # in a fork of the helper, with the environment, folder and arguments it was given
    assert done.returncode == 0
    assert (
        done.stdout.strip() == f"parent {helper.pid} argv ['0'] X=1 preloaded False cwd {tmp_path}"
    )
    assert runner.run([*argv, "3"], env={}, cwd=tmp_path, check=False).returncode == 3
    with pytest.raises(CommandError, match="failed \\(exit 3\\)"):
        runner.run([*argv, "3"], env={}, cwd=tmp_path)
    # anything else runs as Runner runs it: a new process
    other = runner.run([sys.executable, "-c", "import os; print(os.getppid())"], env={})
    assert other.stdout.strip() == str(os.getpid())
    os.kill(helper.pid, 9)
    os.waitpid(helper.pid, 0)
    # a helper that is gone: the tool runs in a new interpreter instead
    again = runner.run([*argv, "0"], env={"X": "2", "PYTHONPATH": str(tmp_path)}, cwd=tmp_path)
    assert again.stdout.startswith(f"parent {os.getpid()} argv ['0'] X=2")
