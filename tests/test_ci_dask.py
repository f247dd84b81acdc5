"""CI jobs on a Dask cluster: a scheduler and two workers as separate processes over TCP on
127.0.0.1. The wheel of an sdist is built on a worker that has the resource its handler
asks for, in that worker's sandbox, without the CI user's token; the runner uploads it.
A worker killed with kill -9 mid-build: the build runs again on the other, and the wheel
is uploaded once."""

from __future__ import annotations

import io
import re
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from ci_support import run_until_idle, task_sdist
from conftest import new_project
from dask_support import Cluster, cluster

from pipl.ci.config import load_ci_config
from pipl.ci.sandbox import unavailable_reason
from pipl.errors import ProjectError
from pipl.index.session import connect
from pipl.index.stages import create_default
from pipl.project import server
from pipl.project.project import Project

pytestmark = pytest.mark.skipif(
    unavailable_reason() is not None, reason=f"no sandbox here: {unavailable_reason()}"
)

SETUP = """\
import os, sys, time
print("SETUP-RAN with", sorted(os.environ), file=sys.stderr)
time.sleep({sleep})
from setuptools import setup
setup()
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "1.0"

[tool.setuptools]
py-modules = []
"""


def setuptools_sdist(
    folder: Path, name: str, sleep: float = 0, extra: str = "", tox: str = ""
) -> Path:
    """An sdist whose build runs its setup.py (which prints its environment's names),
    with ``tox`` as its ``tox.ini`` when given."""
    top = f"{name}-1.0"
    files = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        "setup.py": SETUP.format(sleep=sleep),
        "pyproject.toml": PYPROJECT.format(name=name) + extra,
    }
    if tox:
        files["tox.ini"] = tox
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name_, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name_}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory, hermetic: Path):
    folder = tmp_path_factory.mktemp("dask")
    with cluster(folder, {"plain": "", "render-a": "render=1"}) as found:
        yield found


@pytest.fixture(scope="module")
def farmproj(tmp_path_factory: pytest.TempPathFactory, hermetic: Path, farm: Cluster):
    from pipl.ci import service

    proj = new_project(tmp_path_factory.mktemp("farmci") / "farmed")
    with (proj.root / "pipl.toml").open("a") as toml:
        toml.write(
            f'\n[ci]\nexecutor = "dask"\nscheduler = "{farm.address}"\ntimeout = 120\n'
            '[ci.handlers]\ndev = ["wheel"]\nqa = []\n'
            "[ci.resources]\nwheel = {render = 1}\n"
        )
    with server.running(proj):
        with connect(proj, "admin") as admin:
            create_default(proj, admin)
        yield proj
        service.stop(proj)


def _log(project: Project, job_id: int) -> str:
    return (project.root / ".pipl" / "ci" / "logs" / f"{job_id}.log").read_text()


def _wheels(project: Project, name: str) -> list[str]:
    with connect(project, "anonymous") as anon:
        links = anon.links(project.stage_index(), name, "1.0")
    return [lk.basename for lk in links if lk.basename.endswith(".whl")]


def test_the_wheel_is_built_on_the_worker_with_the_resource_and_uploaded_here(
    farm, farmproj, tmp_path
):
    with connect(farmproj, "owner") as owner:
        owner.upload(farmproj.stage_index(), setuptools_sdist(tmp_path, "farmed"))
    jobs = [j for j in run_until_idle(farmproj) if j.project == "farmed"]
    assert [(j.handler, j.state) for j in jobs] == [("wheel", "passed")], jobs[0].message
    log = _log(farmproj, jobs[0].id)
    render = farm.workers()["render-a"]["address"]
    # the build ran on the worker that has the resource [ci.resources] asks for...
    assert f"build part on Dask worker {render} " in log
    # ...its setup.py saw no variable of pipl's (no token), and the upload was the runner's
    setup = [line for line in log.splitlines() if "SETUP-RAN" in line]
    assert setup and "PIPL" not in setup[0], setup
    assert "farmed-1.0-py3-none-any.whl -> " in log
    assert _wheels(farmproj, "farmed") == ["farmed-1.0-py3-none-any.whl"]


def test_a_worker_killed_mid_build_loses_nothing(farm, farmproj, tmp_path):
    farm.start_worker("render-b", "render=1")
    farm.wait_for_workers({"plain", "render-a", "render-b"})
    with connect(farmproj, "owner") as owner:
        owner.upload(farmproj.stage_index(), setuptools_sdist(tmp_path, "killed", sleep=4))
    found: list = []
    runner = threading.Thread(target=lambda: found.extend(run_until_idle(farmproj)))
    runner.start()
    victim = None
    deadline = time.monotonic() + 60
    while victim is None and time.monotonic() < deadline:
        for address, keys in farm.client.processing().items():
            if any("pipl-ci-wheel" in str(k) for k in keys):
                victim = next(n for n, w in farm.workers().items() if w["address"] == address)
        time.sleep(0.05)
    assert victim in ("render-a", "render-b")
    time.sleep(1.0)  # mid-build: its setup.py sleeps
    farm.kill(victim)
    runner.join(timeout=180)
    assert not runner.is_alive()
    jobs = [j for j in found if j.project == "killed"]
    assert [(j.handler, j.state) for j in jobs] == [("wheel", "passed")], jobs[0].message
    survivor = {"render-a": "render-b", "render-b": "render-a"}[victim]
    survivor_address = farm.workers()[survivor]["address"]
    assert f"build part on Dask worker {survivor_address} " in _log(farmproj, jobs[0].id)
    assert _wheels(farmproj, "killed") == ["killed-1.0-py3-none-any.whl"]
    # the job ran once in the runner's eyes: Dask gave the task to the other worker
    assert jobs[0].attempts == 1


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ('executor = "dask"', '[ci] executor "dask" needs scheduler = "tcp://HOST:PORT"'),
        ('executor = "slurm"', "[ci] executor must be one of local, dask, not 'slurm'"),
        ('scheduler = "farm:8786"', "[ci] scheduler must be a Dask address such as tcp://HOST"),
        ("resources = {wheel = {gpu = 0}}", "[ci.resources] wheel must be a table of resource"),
    ],
)
def test_a_wrong_executor_setting_says_what_to_fix(tmp_path, table, said):
    (tmp_path / "pipl.toml").write_text(f"[ci]\n{table}\n")
    project = Project.__new__(Project)
    object.__setattr__(project, "root", tmp_path)
    with pytest.raises(ProjectError, match="fix the file") as caught:
        load_ci_config(project)
    assert said in str(caught.value) and "\n" not in str(caught.value)


def test_the_embedded_default_is_the_local_executor(tmp_path):
    (tmp_path / "pipl.toml").write_text("[ci]\nworkers = 2\n")
    project = Project.__new__(Project)
    object.__setattr__(project, "root", tmp_path)
    config = load_ci_config(project)
    assert (config.executor, config.scheduler, config.resources) == ("local", "", {})


@pytest.mark.parametrize("doc", ["README.md", "docs/dask.md"])
def test_the_documented_dask_settings_are_what_the_runner_reads(tmp_path, doc):
    text = (Path(__file__).resolve().parent.parent / doc).read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    [block] = [b for b in blocks if re.search(r'^executor = "dask"', b, re.M)]
    (tmp_path / "pipl.toml").write_text(block)
    project = Project.__new__(Project)
    object.__setattr__(project, "root", tmp_path)
    config = load_ci_config(project)
    assert (config.executor, config.scheduler) == ("dask", "tcp://HEAD:8786")
    assert config.resources == {"wheel": {"abi-cp312": 1.0}}


def test_an_unreachable_scheduler_stops_the_runner_with_one_line(farmproj):
    from conftest import free_port

    from pipl.ci.handlers import CiError

    toml = farmproj.root / "pipl.toml"
    before = toml.read_text()
    nowhere = f"tcp://127.0.0.1:{free_port()}"
    toml.write_text(re.sub(r'scheduler = "[^"]*"', f'scheduler = "{nowhere}"', before))
    try:
        assert load_ci_config(farmproj).scheduler == nowhere
        with pytest.raises(CiError) as caught:
            run_until_idle(farmproj)
    finally:
        toml.write_text(before)
    message = str(caught.value)
    assert f"cannot reach the Dask scheduler at {nowhere}" in message
    assert "fix [ci] scheduler in pipl.toml" in message and "\n" not in message


def test_a_job_asking_for_a_resource_no_worker_has_waits_until_its_timeout(farmproj, tmp_path):
    toml = farmproj.root / "pipl.toml"
    before = toml.read_text()
    changed = before.replace("timeout = 120", "timeout = 3").replace("{render = 1}", "{gpu = 1}")
    toml.write_text(changed)
    try:
        with connect(farmproj, "owner") as owner:
            owner.upload(farmproj.stage_index(), setuptools_sdist(tmp_path, "nogpu"))
        jobs = [j for j in run_until_idle(farmproj) if j.project == "nogpu"]
    finally:
        toml.write_text(before)
    assert [(j.handler, j.state) for j in jobs] == [("wheel", "failed")]
    assert jobs[0].message == "timed out after 3s: see its log"
    assert _wheels(farmproj, "nogpu") == []


def test_a_job_the_cluster_gives_up_on_is_retried_by_the_runner(
    tmp_path_factory, hermetic, farmproj, tmp_path
):
    """With Dask's allowed-failures at 0, a worker killed mid-build makes the task fail
    (KilledWorker): the runner queues the job again and its next attempt passes."""
    strict = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    folder = tmp_path_factory.mktemp("strictdask")
    toml = farmproj.root / "pipl.toml"
    before = toml.read_text()
    with cluster(folder, {"s1": "render=1", "s2": "render=1"}, strict) as strict_farm:
        toml.write_text(
            re.sub(r'scheduler = "[^"]*"', f'scheduler = "{strict_farm.address}"', before)
        )
        try:
            with connect(farmproj, "owner") as owner:
                path = setuptools_sdist(tmp_path, "gaveup", sleep=4)
                owner.upload(farmproj.stage_index(), path)
            found: list = []
            runner = threading.Thread(target=lambda: found.extend(run_until_idle(farmproj)))
            runner.start()
            victim = _running_on(strict_farm)
            time.sleep(1.0)
            strict_farm.kill(victim)
            runner.join(timeout=180)
        finally:
            toml.write_text(before)
    assert not runner.is_alive()
    [job] = [j for j in found if j.project == "gaveup"]
    assert (job.handler, job.state, job.attempts) == ("wheel", "passed", 2), job.message
    log = _log(farmproj, job.id)
    assert "the Dask cluster failed: KilledWorker" in log
    assert _wheels(farmproj, "gaveup") == ["gaveup-1.0-py3-none-any.whl"]


def _running_on(farm: Cluster, prefix: str = "pipl-ci-wheel", timeout: float = 60) -> str:
    """The name of the worker running a CI job's build part (its Dask key's ``prefix``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for address, keys in farm.client.processing().items():
            if any(prefix in str(k) for k in keys):
                return next(n for n, w in farm.workers().items() if w["address"] == address)
        time.sleep(0.05)
    raise AssertionError("no CI job ran on the cluster")


def test_a_handler_asks_for_worker_resources_with_an_attribute(
    farm, farmproj, tmp_path, monkeypatch
):
    from pipl.ci.builtin.wheel import WheelHandler

    toml = farmproj.root / "pipl.toml"
    before = toml.read_text()
    toml.write_text(before.replace("[ci.resources]\nwheel = {render = 1}\n", ""))
    assert "[ci.resources]" not in toml.read_text()
    monkeypatch.setattr(WheelHandler, "resources", {"render": 1}, raising=False)
    try:
        with connect(farmproj, "owner") as owner:
            for n in range(4):
                owner.upload(farmproj.stage_index(), setuptools_sdist(tmp_path, f"asks{n}"))
        jobs = [j for j in run_until_idle(farmproj) if j.project.startswith("asks")]
    finally:
        toml.write_text(before)
    assert [j.state for j in jobs] == ["passed"] * 4, [j.message for j in jobs]
    plain = farm.workers()["plain"]["address"]
    for job in jobs:
        log = _log(farmproj, job.id)
        assert "build part on Dask worker " in log and plain not in log


def test_a_packl_asks_for_a_worker_resource_in_its_pyproject(farm, farmproj, tmp_path):
    """Like piwheels' builders per ABI: the packl's ``[tool.pipl] resources`` sends its
    build to the one worker that has them, beside the handler's own ask."""
    farm.start_worker("abi", "render=1,abi-x=1")
    farm.wait_for_workers({"plain", "abi"})
    asks = "\n[tool.pipl]\nresources = {abi-x = 1}\n"
    bad = "\n[tool.pipl]\nresources = {abi-x = 0}\n"
    with connect(farmproj, "owner") as owner:
        owner.upload(farmproj.stage_index(), setuptools_sdist(tmp_path, "abix", extra=asks))
        owner.upload(farmproj.stage_index(), setuptools_sdist(tmp_path, "abibad", extra=bad))
    jobs = {j.project: j for j in run_until_idle(farmproj) if j.project.startswith("abi")}
    assert jobs["abix"].state == "passed", jobs["abix"].message
    log = _log(farmproj, jobs["abix"].id)
    assert "sent again, asking for {'render': 1.0, 'abi-x': 1.0}" in log
    abi = farm.workers()["abi"]["address"]
    assert log.rsplit("build part on Dask worker ", 1)[1].startswith(f"{abi} ")
    assert _wheels(farmproj, "abix") == ["abix-1.0-py3-none-any.whl"]
    assert jobs["abibad"].state == "failed"
    assert jobs["abibad"].message == (
        "[tool.pipl] resources must be a table of resource = positive amount"
    )


def test_the_packls_ask_counts_only_on_a_dask_worker():
    from types import SimpleNamespace

    from pipl.ci.handlers import NeedsResources, check_resources

    asked = {"abi-x": 1.0}
    check_resources(SimpleNamespace(worker_resources=None), asked)  # type: ignore[arg-type]
    check_resources(SimpleNamespace(worker_resources={"abi-x": 2.0}), asked)  # type: ignore[arg-type]
    with pytest.raises(NeedsResources) as caught:
        check_resources(SimpleNamespace(worker_resources={"render": 1.0}), asked)  # type: ignore[arg-type]
    assert caught.value.resources == {"render": 1.0, "abi-x": 1.0}


TOX = """\
[tox]
envlist = py

[testenv]
commands = python -c "import os, time; print('TOX-RAN with', sorted(os.environ)); \
    time.sleep({sleep})"
"""


@contextmanager
def stage_handlers(project: Project, handlers: list[str]) -> Iterator[str]:
    """The project's first stage with ``handlers`` (as they were, afterwards)."""
    stage = project.stage_index()
    with connect(project, "admin") as admin:
        before = admin.get_index(stage, projects=False).get("pipl_handlers") or []
        admin.modify_index(stage, pipl_handlers=handlers)
    try:
        yield stage
    finally:
        with connect(project, "admin") as admin:
            admin.modify_index(stage, pipl_handlers=before)


def _toxresults(project: Project, name: str) -> list[str]:
    with connect(project, "anonymous") as anon:
        links = anon.links(project.stage_index(), name, "1.0")
    return [lk.basename for lk in links if lk.rel == "toxresult"]


def _worker_part(log: str) -> str:
    """What the worker ran, as the job's log shows it: between the runner's line naming
    the worker and the deliver part going on."""
    return log.split("build part on Dask worker ", 1)[1].split("phase wait for the build", 1)[0]


def test_qa_runs_tox_on_a_worker_and_the_runner_attaches_the_result(farm, farmproj, tmp_path):
    path = setuptools_sdist(tmp_path, "toxed", tox=TOX.format(sleep=0))
    with stage_handlers(farmproj, ["qa"]) as stage:
        with connect(farmproj, "owner") as owner:
            owner.upload(stage, path)
        jobs = [j for j in run_until_idle(farmproj) if j.project == "toxed"]
    assert [(j.handler, j.state) for j in jobs] == [("qa", "passed")], jobs[0].message
    assert jobs[0].message == "QA passed: tox on toxed-1.0.tar.gz: py"
    log = _log(farmproj, jobs[0].id)
    on_worker = _worker_part(log)
    # tox ran on the worker, in its sandbox, with no variable of pipl's (no token)...
    ran = [line for line in on_worker.splitlines() if "TOX-RAN" in line]
    assert ran and "PIPL" not in ran[0], on_worker
    assert "phase tox took" in on_worker
    # ...and the runner attached its result: once, with the job's mark
    assert "toxresult attached to toxed-1.0.tar.gz" in log.split(on_worker, 1)[1]
    assert len(_toxresults(farmproj, "toxed")) == 1


def test_a_worker_killed_mid_tox_loses_nothing(farm, farmproj, tmp_path):
    farm.start_worker("render-c", "render=1")  # two workers at least, whatever ran before
    farm.wait_for_workers({"plain", "render-c"})
    path = setuptools_sdist(tmp_path, "toxkilled", tox=TOX.format(sleep=6))
    with stage_handlers(farmproj, ["qa"]) as stage:
        with connect(farmproj, "owner") as owner:
            owner.upload(stage, path)
        found: list = []
        runner = threading.Thread(target=lambda: found.extend(run_until_idle(farmproj)))
        runner.start()
        victim = _running_on(farm, "pipl-ci-qa")
        deadline = time.monotonic() + 120  # killed once tox runs its test (it sleeps)
        while "TOX-RAN" not in _worker_logs(farm, victim) and time.monotonic() < deadline:
            time.sleep(0.1)
        farm.kill(victim)
        runner.join(timeout=300)
    assert not runner.is_alive()
    [job] = [j for j in found if j.project == "toxkilled"]
    assert (job.handler, job.state, job.attempts) == ("qa", "passed", 1), job.message
    survivors = {n: w["address"] for n, w in farm.workers().items()}
    assert victim not in survivors
    log = _log(farmproj, job.id)
    assert log.count("build part on Dask worker ") == 1
    assert any(f"build part on Dask worker {a} " in log for a in survivors.values())
    assert len(_toxresults(farmproj, "toxkilled")) == 1


def _worker_logs(farm: Cluster, name: str) -> str:
    """The logs of the CI jobs running on worker ``name`` now (their temporary folders)."""
    jobs = farm.folder / f"work-{name}" / "jobs"
    return "".join(p.read_text(errors="replace") for p in jobs.glob("pipl-ci-*/job.log"))


def test_processing_runs_on_a_worker_and_the_runner_publishes_the_products(
    farm, farmproj, tmp_path
):
    path = task_sdist(tmp_path, "farm-task", "1.0")
    with stage_handlers(farmproj, ["process"]) as stage:
        with connect(farmproj, "owner") as owner:
            owner.upload(stage, path)
        jobs = [j for j in run_until_idle(farmproj) if j.project == "farm-task"]
    assert [(j.handler, j.state) for j in jobs] == [("process", "passed")], jobs[0].message
    assert f"published 2 file(s) to {stage}" in jobs[0].message
    log = _log(farmproj, jobs[0].id)
    on_worker = _worker_part(log)
    # the release was installed and processed on the worker, in its sandbox...
    assert "phase install and process took" in on_worker
    assert "product build and upload" not in on_worker
    # ...its outputs came back, and the runner built the product and published it
    assert "phase product build and upload took" in log.split(on_worker, 1)[1]
    with connect(farmproj, "anonymous") as anon:
        files = [lk.basename for lk in anon.links(stage, "farm-task-report", "1.0")]
    assert "farm_task_report-1.0-py3-none-any.whl" in files
    with connect(farmproj, "anonymous") as anon:
        report = anon.links(stage, "farm-task-report", "1.0")
    assert report


def test_a_re_processing_runs_on_a_worker_and_the_runner_publishes_its_product(
    farm, farmproj, tmp_path
):
    """An upstream release re-processes the task that uses it on a worker, with the plan
    the runner wrote in the job's spec (the pins and N), and the runner publishes it."""
    from flow_support import lib_sdist
    from flow_support import task_sdist as flow_task_sdist

    with stage_handlers(farmproj, ["process"]) as stage:
        with connect(farmproj, "owner") as owner:
            owner.upload(stage, lib_sdist(tmp_path, "farm-lib", "1.0"))
            owner.upload(stage, flow_task_sdist(tmp_path, "farm-flow", "farm-lib"))
        first = [j for j in run_until_idle(farmproj) if j.project == "farm-flow"]
        assert [j.state for j in first] == ["passed"], first[0].message
        with connect(farmproj, "owner") as owner:
            owner.upload(stage, lib_sdist(tmp_path, "farm-lib", "1.1"))
        jobs = [j for j in run_until_idle(farmproj) if j.project == "farm-flow" and j.reason]
    [job] = jobs
    assert job.state == "passed", job.message
    assert job.message.startswith(
        "re-processing for farm-lib 1.1 (upload): processing made farm-flow-report 0.1.0.post1"
    ), job.message
    log = _log(farmproj, job.id)
    on_worker = _worker_part(log)
    assert "phase install and process took" in on_worker
    assert "phase product build and upload took" in log.split(on_worker, 1)[1]
    with connect(farmproj, "anonymous") as anon:
        made = anon.versions(stage, "farm-flow-report")
    assert made["0.1.0.post1"]["summary"] == "made with farm-lib 1.1"
    assert made["0.1.0"]["summary"] == "made with farm-lib 1.0"


def test_a_worker_without_pipls_ci_plugin_leaves_the_runner_running(tmp_path, hermetic):
    """A worker whose Python has no pipl.ci (one for pipeline segments) refuses the
    workers' prefork plugin: the runner still connects, and says so."""
    from pipl.ci.dask import DaskDispatch

    stub = tmp_path / "segments-only"
    (stub / "pipl").mkdir(parents=True)
    (stub / "pipl" / "__init__.py").write_text("")  # a pipl without pipl.ci
    with cluster(tmp_path, {}) as found:
        found.start_worker("segments", env={"PYTHONPATH": str(stub)})
        found.wait_for_workers({"segments"})
        dispatch = DaskDispatch(found.address)
        try:
            assert dispatch.client.scheduler_info()["workers"]
        finally:
            dispatch.close()
    assert "a Dask worker could not load pipl's CI worker plugin (" in dispatch.plugin_error
    assert "\n" not in dispatch.plugin_error


def test_a_worker_sends_back_folders_of_regular_files_and_nothing_else(tmp_path):
    """What a build hands back crosses to the runner as files by relative path: a
    folder's files come back in the same place, a link in it is refused, and a path that
    climbs out of the work folder is refused by the runner."""
    import json

    from pipl.ci.handback import HANDBACK, pack, read_handback, store_answer
    from pipl.ci.handlers import CiError
    from pipl.ci.sandbox import Rejected

    work = tmp_path / "worker" / "work"
    (work / "outputs" / "report" / "frames").mkdir(parents=True)
    (work / "outputs" / "report" / "frames" / "f1.exr").write_bytes(b"pixels")
    (work / "outputs" / "report" / "notes.txt").write_text("made")
    files = pack(["outputs/report"], work)
    assert files == {
        "outputs/report/frames/f1.exr": b"pixels",
        "outputs/report/notes.txt": b"made",
    }
    folder = tmp_path / "runner"
    answer = {"handback": {"files": ["outputs/report"], "data": {"k": 1}}, "files": files}
    store_answer(answer, folder, folder / "work")
    assert json.loads((folder / HANDBACK).read_text())["files"] == ["handback/outputs/report"]
    back = read_handback(folder, folder / "work")
    assert (back.files[0] / "frames" / "f1.exr").read_bytes() == b"pixels"
    assert back.data == {"k": 1}

    (work / "outputs" / "report" / "frames" / "link").symlink_to("f1.exr")
    with pytest.raises(Rejected, match="frames/link is a link: a worker sends regular files"):
        pack(["outputs/report"], work)
    (work / "outputs" / "report" / "frames" / "link").unlink()
    (work / "outputs" / "report" / "frames" / "out").symlink_to("/etc")
    with pytest.raises(Rejected, match="frames/out links outside its folder: refused"):
        pack(["outputs/report"], work)
    for bad in ("../escape", "/etc/passwd", "a//b", "a/../../b"):
        with pytest.raises(CiError, match="the worker sent back a file named"):
            store_answer({"handback": {"files": []}, "files": {bad: b"x"}}, folder, folder / "w")


def test_a_build_that_fails_on_a_worker_stops_the_waiting_deliver_part(farm, farmproj, tmp_path):
    broken = "\n[build-system]\nrequires = []\n"  # a second table: no build backend runs
    with connect(farmproj, "owner") as owner:
        owner.upload(farmproj.stage_index(), setuptools_sdist(tmp_path, "broken", extra=broken))
    [job] = [j for j in run_until_idle(farmproj) if j.project == "broken"]
    assert job.state == "failed"
    assert job.message.startswith("building a wheel of broken-1.0.tar.gz failed (uv exit ")
    log = _log(farmproj, job.id)
    # the deliver part started, waited, and was stopped without going on
    assert "waiting for the build part on a Dask worker" in log
    assert "phase wait for the build part took" not in log
    assert _wheels(farmproj, "broken") == []


def test_a_contract_run_on_a_worker_is_dropped_when_the_project_turns_contracts_off(
    farm, farmproj, tmp_path
):
    """A worker does not know the project's ``[qa] contracts``: it runs a packl's kind
    contract as its tox, and the runner, which knows, attaches nothing."""
    toml = farmproj.root / "pipl.toml"
    before = toml.read_text()
    toml.write_text(before + "\n[qa]\ncontracts = false\n")
    try:
        with stage_handlers(farmproj, ["qa"]) as stage:
            with connect(farmproj, "owner") as owner:
                owner.upload(stage, task_sdist(tmp_path, "nocontract", "1.0"))
            [job] = [j for j in run_until_idle(farmproj) if j.project == "nocontract"]
    finally:
        toml.write_text(before)
    assert job.state == "passed", job.message
    assert job.message == (
        "QA none: nocontract-1.0.tar.gz has no tox configuration and [qa] contracts = false"
    )
    assert "contract" in _worker_part(_log(farmproj, job.id))  # tox ran it there
    assert _toxresults(farmproj, "nocontract") == []


def test_the_owners_qa_checks_run_on_the_runners_host_after_tox_on_a_worker(
    farm, farmproj, tmp_path
):
    """``[qa] checks``: the release's tox runs on a worker, the owner's policy packl on the
    runner's host (the worker does not know the project's checks); a failing check fails
    the job there."""
    from test_qa_policy import policy_files

    with connect(farmproj, "owner") as owner:
        for path in policy_files(tmp_path):  # the owner's policy, on the base index
            owner.upload(farmproj.base_index, path)
    toml = farmproj.root / "pipl.toml"
    before = toml.read_text()
    toml.write_text(before + '\n[qa]\nchecks = ["studio-policy"]\n')
    try:
        with stage_handlers(farmproj, ["qa"]) as stage:
            with connect(farmproj, "owner") as owner:
                owner.upload(stage, task_sdist(tmp_path, "good-farm", "1.0"))
                owner.upload(stage, task_sdist(tmp_path, "bad-farm", "1.0"))
            wanted = ("good-farm", "bad-farm")
            jobs = {j.project: j for j in run_until_idle(farmproj) if j.project in wanted}
    finally:
        toml.write_text(before)
    good, bad = jobs["good-farm"], jobs["bad-farm"]
    assert good.state == "passed", good.message
    assert "owner checks passed: policy:studio-policy" in good.message
    assert bad.state == "failed" and "names starting with bad-" in bad.message, bad.message
    for job in (good, bad):
        log = _log(farmproj, job.id)
        on_worker = _worker_part(log)
        assert "phase tox took" in on_worker and "owner checks" not in on_worker
        assert "phase owner checks took" in log.split(on_worker, 1)[1]
