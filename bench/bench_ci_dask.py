"""CI jobs on Dask beside the local executor: what sending a job to a worker adds.

One Dask scheduler and two workers (separate processes, TCP on 127.0.0.1), and two offline
projects started by ``pipl proj start``, one per executor (``[ci] executor = "local"`` and
``"dask"``), each with an index whose only handler is ``wheel``:

- per-job time of a light wheel job (an sdist flit_core builds in process), one upload
  at a time after a first that warms everything, the two projects in turn so that both
  meet the same load of a shared host: the Dask job's build part runs on a worker (spec
  sent, a job process forked there, sdist read, wheel built and sent back) while its
  deliver part starts here and waits for the wheel, so the difference is the dispatch
  overhead; beside it, the round trip of an empty Dask task, the scheduler's own share;
- a burst of ``BURST_N`` such uploads: jobs per minute and lost jobs, local (2 runner
  workers) beside Dask (2 runner workers, 2 Dask workers).

``python bench/run.py ci-dask``.
"""

from __future__ import annotations

import io
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from bench.common import BenchProject, print_table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

SEQ_N = 20
BURST_N = 200

PYPROJECT = """\
[build-system]
requires = ["flit_core>=3.12,<5"]
build-backend = "flit_core.buildapi"

[project]
name = "{name}"
version = "1.0"
description = "a light wheel job"
"""


def flit_sdist(folder: Path, name: str) -> Path:
    """An sdist that pipl's flit_core builds in process (no code of it runs)."""
    top, module = f"{name}-1.0", name.replace("-", "_")
    files = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        "pyproject.toml": PYPROJECT.format(name=name),
        f"{module}/__init__.py": '"""a light wheel job"""\n',
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{module}-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def _jobs(project, index: str):  # type: ignore[no-untyped-def]
    from pipl.ci import db

    conn = db.open_db(project.root)
    try:
        return [j for j in db.list_jobs(conn, limit=100_000) if j.index == index]
    finally:
        conn.close()


def _wait(project, index: str, n: int, timeout: float = 900.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = _jobs(project, index)
        if len(jobs) >= n and all(j.state in ("passed", "failed", "cancelled") for j in jobs):
            return jobs
        time.sleep(0.05)
    raise TimeoutError(f"{index}: jobs did not finish")


def _upload_and_wait(project, owner, index: str, path: Path, n: int) -> float:  # type: ignore[no-untyped-def]
    """Upload one sdist and wait for its job (the ``n``-th there): its runtime, seconds."""
    owner.upload(index, path)
    job = max(_wait(project, index, n), key=lambda j: j.id)
    assert job.state == "passed", job.message
    return float((job.finished or 0) - (job.started or 0))


def _burst(project, owner, index: str, folder: Path) -> dict[str, float]:  # type: ignore[no-untyped-def]
    sdists = [flit_sdist(folder, f"b{i}") for i in range(BURST_N)]
    start = time.time()
    for path in sdists:
        owner.upload(index, path)
    jobs = _wait(project, index, BURST_N)
    span = max(j.finished or 0 for j in jobs) - start
    passed = sum(j.state == "passed" for j in jobs)
    return {
        "jpm": passed / span * 60,
        "passed": passed,
        "lost": BURST_N - len({j.project for j in jobs}),
    }


def measure(tmp: Path, address: str) -> dict[str, dict[str, float]]:
    """Both projects at once; their light jobs one upload at a time, alternately, so
    that both meet the same load on a shared host; then each burst in turn."""
    from ci_support import handled_index

    from pipl.index.session import connect
    from pipl.project.project import Project

    dask_toml = f'[ci]\nworkers = 2\nexecutor = "dask"\nscheduler = "{address}"\n'
    with (
        BenchProject(tmp / "local", "[ci]\nworkers = 2\n") as local_bp,
        BenchProject(tmp / "dask", dask_toml) as dask_bp,
    ):
        projects = {"local": Project.load(local_bp.root), "dask": Project.load(dask_bp.root)}
        indexes = {}
        for key, project in projects.items():
            with connect(project, "admin") as admin:
                indexes[key] = (
                    handled_index(admin, project, "seq", ["wheel"]),
                    handled_index(admin, project, "burst", ["wheel"]),
                )
        took: dict[str, list[float]] = {"local": [], "dask": []}
        with (
            connect(projects["local"], "owner") as local_owner,
            connect(projects["dask"], "owner") as dask_owner,
        ):
            owners = {"local": local_owner, "dask": dask_owner}
            for i in range(SEQ_N + 1):
                for key in ("local", "dask") if i % 2 else ("dask", "local"):
                    path = flit_sdist(tmp / key / "seq", f"seq{i}")
                    seconds = _upload_and_wait(
                        projects[key], owners[key], indexes[key][0], path, i + 1
                    )
                    if i:  # the first warms the caches (and the workers' prefork processes)
                        took[key].append(seconds)
            bursts = {
                key: _burst(projects[key], owners[key], indexes[key][1], tmp / key / "burst")
                for key in ("local", "dask")
            }
    return {
        key: {
            "p50": statistics.median(took[key]),
            "min": min(took[key]),
            "added": statistics.median(
                [d - lo for d, lo in zip(took["dask"], took["local"], strict=True)]
            ),
            **bursts[key],
        }
        for key in ("local", "dask")
    }


def main() -> None:
    from dask_support import cluster

    with tempfile.TemporaryDirectory(prefix="pipl-bench-ci-dask-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "farm").mkdir()
        with cluster(tmp / "farm", {"one": "", "two": ""}) as farm:
            trips = []
            for _ in range(SEQ_N + 1):
                start = time.perf_counter()
                farm.client.submit(len, "x", pure=False).result()
                trips.append(time.perf_counter() - start)
            trip = statistics.median(trips[1:])
            found = measure(tmp, farm.address)
    local, dask = found["local"], found["dask"]
    print_table(
        f"a light wheel job, one upload at a time, local and Dask in turn (p50 of {SEQ_N})",
        [
            ("local executor", f"{local['p50'] * 1000:.0f} ms (min {local['min'] * 1000:.0f})"),
            ("dask, 2 workers", f"{dask['p50'] * 1000:.0f} ms (min {dask['min'] * 1000:.0f})"),
            ("added by Dask (p50 of the pairs)", f"{dask['added'] * 1000:.0f} ms"),
            ("an empty Dask task's round trip (p50)", f"{trip * 1000:.0f} ms"),
        ],
    )
    print_table(
        f"burst of {BURST_N} sdist uploads (wheel jobs), 2 runner workers",
        [
            ("local: jobs per minute", f"{local['jpm']:.0f}"),
            ("local: passed, lost", f"{local['passed']:.0f} of {BURST_N}, {local['lost']:.0f}"),
            ("dask (2 workers): jobs per minute", f"{dask['jpm']:.0f}"),
            ("dask: passed, lost", f"{dask['passed']:.0f} of {BURST_N}, {dask['lost']:.0f}"),
        ],
    )
