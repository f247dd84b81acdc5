"""Pipeline segments on a Dask cluster (a scheduler and two workers as separate processes
over TCP on 127.0.0.1): a segment with its own environment runs, on each worker, in that
environment, made there from the project index and cached by its lock."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from dask_support import cluster

from pipl.packl.build import publish
from pipl.packl.create import create_packl
from pipl.pipe import load_pipeline, run
from pipl.workspace.workspace import create_workspace, remove_workspace

SEGMENT = """\
import sys, time
MULTIPLEX = 'cross_prod'
def run(seg):
    time.sleep(seg.params.get("sleep", 0.3))
    with open(seg.get_data_fn('where.txt'), 'w') as f:
        f.write(sys.prefix)
    return [seg.get_input('source') * 10]
def check():
    return True
"""


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory, hermetic: Path):
    with cluster(tmp_path_factory.mktemp("pipedask"), {"one": "", "two": ""}) as found:
        yield found


@pytest.fixture(scope="module")
def ws(project):
    space = create_workspace(project, "daskpipes")
    yield space
    remove_workspace(space)


@pytest.fixture(scope="module")
def farm_seg(project, ws):
    """The segment packl ``farm-seg``, published on the project index."""
    from pipl.index.session import connect

    seg = create_packl(project, ws, "farm-seg", "segment")
    (seg.path / "farm_seg" / "__init__.py").write_text(SEGMENT)
    with connect(project, "owner") as owner:
        publish(project, ws, seg, owner)
    return seg


def test_a_segment_runs_in_its_own_environment_made_on_each_worker(
    project, ws, farm_seg, farm, tmp_path
):
    pipe = create_packl(project, ws, "farm-pipe", "pipeline")
    init = pipe.path / "farm_pipe" / "__init__.py"
    init.write_text(
        init.read_text()
        .replace(
            '"double": {"params": {"factor": 2}},',
            '"double": {"params": {"factor": 2}},\n'
            '    "tens": {"packl": "farm-seg", "env": ["farm-seg"]},',
        )
        .replace("source -> double;", "source -> double;\nsource -> tens;")
    )
    pipeline = load_pipeline(pipe.path, tmp_path / "data")
    report = run(pipeline, executor="dask", scheduler=farm.address, jobs=2)
    assert report.ok, report
    tens = report.segment("tens")
    assert tens.ran == 3
    assert sorted(int(v) for v in _outputs(tens.root)) == [10, 20, 30]
    (here,) = [e for e in (tmp_path / "data" / ".envs").iterdir() if e.is_dir()]
    # each instance ran in an environment a worker made under its own folder, named by
    # the same lock hash as the engine's
    made = {Path(f.read_text()) for f in tens.root.glob("data/*/where.txt")}
    assert made and all(p.name == here.name for p in made), made
    assert all(p.parent.parent.name.startswith("work-") for p in made), made
    for env in made:
        lock = (env / "pipl-lock.txt").read_text()
        assert "farm-seg==0.1.0" in lock and lock == (here / "pipl-lock.txt").read_text()
    # cached by its lock: a forced second run makes no new environment on any worker
    before = {p: p.stat().st_mtime_ns for p in made}
    report = run(
        load_pipeline(pipe.path, tmp_path / "data"),
        executor="dask",
        scheduler=farm.address,
        jobs=2,
        force=["tens"],
    )
    assert report.ok and report.segment("tens").ran == 3
    again = {Path(f.read_text()) for f in report.segment("tens").root.glob("data/*/where.txt")}
    assert again <= set(before) and all(p.stat().st_mtime_ns == before[p] for p in before)


def test_a_worker_killed_mid_segment_loses_no_instance(project, ws, farm_seg, farm, tmp_path):
    """The segment packl of the test above, slower: kill -9 of a worker running one of its
    batches; Dask runs the batch again on another worker and every instance is there."""
    farm.start_worker("three")
    farm.wait_for_workers({"one", "two", "three"})
    pipe = create_packl(project, ws, "slow-pipe", "pipeline")
    init = pipe.path / "slow_pipe" / "__init__.py"
    init.write_text(
        init.read_text()
        .replace(
            '"double": {"params": {"factor": 2}},',
            '"double": {"params": {"factor": 2}},\n'
            '    "tens": {"packl": "farm-seg", "env": ["farm-seg"], "params": {"sleep": 3}},',
        )
        .replace("source -> double;", "source -> double;\nsource -> tens;")
    )
    reports: list = []
    runner = threading.Thread(
        target=lambda: reports.append(
            run(
                load_pipeline(pipe.path, tmp_path / "data"),
                executor="dask",
                scheduler=farm.address,
                jobs=2,
            )
        )
    )
    runner.start()
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        for address, keys in farm.client.processing().items():
            if any("run_batch_in_env" in str(k) for k in keys):
                victim = next(n for n, w in farm.workers().items() if w["address"] == address)
        time.sleep(0.05)
    assert victim is not None
    time.sleep(1.0)  # mid-instance: each sleeps 3 s
    farm.kill(victim)
    runner.join(timeout=300)
    assert not runner.is_alive()
    [report] = reports
    assert report.ok, report
    tens = report.segment("tens")
    assert tens.ran == 3 and tens.failed == 0
    assert sorted(int(v) for v in _outputs(tens.root)) == [10, 20, 30]


def _outputs(root: Path) -> list[str]:
    from pipl_pipe.segment.worker import read_journal

    return [str(r["output"][0]) for r in read_journal(root).values()]
