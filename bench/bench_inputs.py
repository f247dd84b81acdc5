"""A pipeline with 100 input packls, one of which gets a new version: only its instances
compute, beside the full run of the first release.

One offline project with the sandbox on (``pipl proj start``, its runner with 2 workers).
The pipeline packl ``inp-pipe`` depends on ``inp-scan-000`` ... ``inp-scan-099`` and its
orphan segment ``scan`` takes every ``inp-scan-*`` packl as an input item
(``SEGMENTS = {"scan": {"inputs": {"packls": "inp-scan-*"}}}``); ``scan -> tally``, each
instance doing 20 ms of work. Everything is uploaded to qa, where processing runs.

Measured: the full run (the pipeline's upload to its leaf product's wheel on qa), then a
new version of one input packl (its upload to the product ``0.1.0.post1`` on qa): the
instances that ran and were reused (from the job's message) and the times, the pipeline
job's own seconds and its DAG's run apart (the rest of a job is its fresh environment:
the install of the pipeline and its 100 inputs). ``python bench/run.py pipe-inputs``.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BenchProject, print_table

INPUTS = 100
TITLE = f"a pipeline with {INPUTS} input packls: full run vs one input's new version (sandbox on)"
MODULE = '''\
"""Every inp-scan-* packl it depends on is one input of segment scan."""

PIPELINE = "scan -> tally;"
SEGMENTS = {"scan": {"inputs": {"packls": "inp-scan-*"}}}
'''
SEGMENTS = {
    "segments/scan.py": (
        "import time\n"
        "item = get_input()\n"
        "time.sleep(0.02)\n"
        "seg_output = [f\"{item['packl']}=={item['version']}\"]\n"
    ),
    "segments/tally.py": "import time\ntime.sleep(0.02)\nset_output(get_input('scan').upper())\n",
}


def wheel(out: Path, name: str, version: str, **extra: Any) -> Path:
    """A pure-Python wheel written directly (``requires``, ``files``, ``entry_points``)."""
    from pipl.index.wheelpack import write_wheel

    module = name.replace("-", "_")
    meta = [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}"]
    meta += [f"Requires-Dist: {r}" for r in extra.get("requires", [])]
    files = {f"{module}/__init__.py": extra.get("body", f"VERSION = {version!r}\n").encode()}
    files.update({f"{module}/{p}": t.encode() for p, t in extra.get("files", {}).items()})
    info = {"METADATA": ("\n".join(meta) + "\n").encode()}
    if "entry_points" in extra:
        info["entry_points.txt"] = "".join(
            f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())
            for group, eps in extra["entry_points"].items()
        ).encode()
    return write_wheel(out, name, version, files, info)


def _product_on(anon: Any, index: str, version: str, timeout: float = 900) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        links = anon.links(index, "inp-pipe-tally", version)
        if any(lk.basename.endswith(".whl") for lk in links):
            return time.time()
        time.sleep(0.05)
    raise RuntimeError(f"inp-pipe-tally {version} did not reach {index} in {timeout:.0f} s")


def _pipeline_job(project: Any, remade: bool, timeout: float = 300) -> Any:
    """The pipeline's process job (its upload's, or the re-processing), once it ended."""
    from pipl.ci import db

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = db.open_db(project.root)
        try:
            jobs = db.list_jobs(conn, limit=100_000)
        finally:
            conn.close()
        found = [
            j
            for j in jobs
            if (j.project, j.handler) == ("inp-pipe", "process") and bool(j.reason) == remade
        ]
        if found and max(found, key=lambda j: j.id).state not in (db.QUEUED, db.RUNNING):
            return max(found, key=lambda j: j.id)
        time.sleep(0.1)
    raise RuntimeError("the pipeline's job did not end")


def _run_seconds(project: Any, job: Any) -> float:
    """The job's "pipeline run" phase (the DAG's run, in the sandbox), from its log."""
    from pipl.ci.runner import log_path

    found = re.search(r"phase pipeline run took ([0-9.]+) s", log_path(project, job.id).read_text())
    if found is None:
        raise RuntimeError(f"no pipeline run phase in the log of job {job.id}")
    return float(found[1])


def _counts(message: str) -> tuple[int, int]:
    found = re.search(r"(\d+) instance\(s\) ran, (\d+) reused", message)
    if found is None:
        raise RuntimeError(f"no instance counts in the job's message: {message}")
    return int(found[1]), int(found[2])


def rows(project: Any, owner: Any, tmp: Path) -> list[tuple[str, str]]:
    from pipl.index.session import connect

    qa = project.stage_index("qa")
    scans = [f"inp-scan-{n:03d}" for n in range(INPUTS)]
    for scan in scans:
        owner.upload(qa, wheel(tmp / "inputs", scan, "1.0"))
    time.sleep(5.0)  # the inputs' own jobs end
    pipe = wheel(
        tmp / "pipe",
        "inp-pipe",
        "0.1.0",
        requires=["pipl-pipe", *scans],
        body=MODULE,
        files=SEGMENTS,
        entry_points={"pipl_pipe.pipeline": {"inp-pipe": "inp_pipe:PIPELINE"}},
    )
    with connect(project, "anonymous") as anon:
        t0 = time.time()
        owner.upload(qa, pipe)
        full = _product_on(anon, qa, "0.1.0") - t0
        full_job = _pipeline_job(project, remade=False)
        time.sleep(3.0)
        t1 = time.time()
        owner.upload(qa, wheel(tmp / "new", scans[42], "1.1"))
        one = _product_on(anon, qa, "0.1.0.post1") - t1
        one_job = _pipeline_job(project, remade=True)
    ran_full, reused_full = _counts(full_job.message)
    ran_one, reused_one = _counts(one_job.message)
    return [
        ("full run: instances ran / reused", f"{ran_full} / {reused_full}"),
        ("full run: the pipeline job", f"{full_job.seconds:.2f} s"),
        ("full run: its DAG's run (in the job)", f"{_run_seconds(project, full_job):.2f} s"),
        ("full run: upload -> leaf product on qa", f"{full:.2f} s"),
        (f"{scans[42]} 1.1: instances ran / reused", f"{ran_one} / {reused_one}"),
        (f"{scans[42]} 1.1: the re-processing job", f"{one_job.seconds:.2f} s"),
        (f"{scans[42]} 1.1: its DAG's run (in the job)", f"{_run_seconds(project, one_job):.2f} s"),
        (f"{scans[42]} 1.1: upload -> product 0.1.0.post1 on qa", f"{one:.2f} s"),
    ]


def main() -> None:
    from pipl.index.session import connect
    from pipl.project.project import Project

    with tempfile.TemporaryDirectory(prefix="pipl-bench-inputs-") as tmp_name:
        tmp = Path(tmp_name)
        with BenchProject(tmp) as bp:
            project = Project.load(bp.root)
            with connect(project, "owner") as owner:
                table = rows(project, owner, tmp)
    print_table(TITLE, table)


if __name__ == "__main__":
    main()
