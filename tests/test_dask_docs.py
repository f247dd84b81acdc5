"""docs/dask.md's cluster recipes: its dask-jobqueue configuration makes the SLURM and PBS
batch scripts it says (no batch system needed: ``job_script()``), and its Open Job
Description template passes ``openjd check`` and, run by ``openjd run``, starts a worker
that joins a real scheduler with the resource asked for."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from dask_support import Cluster

DOCS = Path(__file__).resolve().parent.parent / "docs"
BIN = Path(sys.executable).parent


def _jobqueue_config() -> dict:
    text = (DOCS / "dask.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    [config] = [yaml.safe_load(b) for b in blocks if b.startswith("jobqueue:")]
    return config


@pytest.mark.parametrize(
    ("kind", "directives"),
    [
        ("slurm", ["#SBATCH -p render", "#SBATCH -A studio", "#SBATCH -t 08:00:00"]),
        ("pbs", ["#PBS -q render", "#PBS -A studio", "#PBS -l walltime=08:00:00"]),
    ],
)
def test_the_jobqueue_configuration_makes_the_batch_script(kind, directives):
    import dask
    import dask_jobqueue

    cls = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[kind]
    # over dask-jobqueue's defaults, as ~/.config/dask/jobqueue.yaml would be
    settings = _jobqueue_config()["jobqueue"][kind]
    with dask.config.set({f"jobqueue.{kind}.{key}": v for key, v in settings.items()}):
        # on loopback and any port here: the documented 8786 may be taken on this host
        options = {"host": "127.0.0.1", "port": 0, "dashboard_address": ":0"}
        cluster = cls(scheduler_options=options)
        try:
            script = cluster.job_script()
            address = cluster.scheduler_address
        finally:
            cluster.close()
    for line in directives:
        assert line in script, script
    assert "source /opt/pipl/venv/bin/activate" in script
    assert "export PIPL_PIPE_ENVS=/scratch/$USER/pipl-envs" in script
    assert re.search(rf"-m distributed.cli.dask_worker {address} .*--resources render=1", script)
    assert "--nthreads 4" in script and "--memory-limit 14.90GiB" in script  # 16 GB


def test_the_openjd_template_runs_a_worker_that_joins_the_scheduler(tmp_path):
    template = DOCS / "dask-workers.yaml"
    check = subprocess.run(
        [BIN / "openjd", "check", template], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    farm = Cluster(tmp_path)
    try:
        farm.start_scheduler()
        argv = [BIN / "openjd", "run", template, "--step", "DaskWorkers"]
        for param in (
            f"Scheduler={farm.address}",
            "Workers=1",
            "Lifetime=6s",
            "Resources=abi-cp312=1",
            f"Dask={BIN / 'dask'}",
        ):
            argv += ["-p", param]
        run = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        joined = None
        deadline = time.monotonic() + 60
        while joined is None and time.monotonic() < deadline and run.poll() is None:
            joined = farm.workers().get("openjd-1")
            time.sleep(0.1)
        output = run.communicate(timeout=60)[0]
    finally:
        farm.close()
    assert joined is not None, output
    assert joined["resources"] == {"abi-cp312": 1}
    assert run.returncode == 0, output
