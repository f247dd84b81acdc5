"""Pipelines take packls as inputs: an orphan segment fed with every installed packl
matching a name pattern (or every product of a type). A new version of one input packl
re-processes the pipeline, computes only that input's instances, and publishes the leaf
again as ``VERSION.postN`` holding this run's instances (a real server, a real runner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ci_support import run_until_idle
from helpers import make_wheel

from pipl.assets.gc import manifest_from_dist
from pipl.assets.project_store import project_store
from pipl.ci import db, outbox
from pipl.errors import PipelineError
from pipl.index.session import connect
from pipl.pipe.inputs import declared, matching, packl_inputs
from pipl.project.project import Project

PIPELINE_MODULE = '''\
"""Every scan-* packl it depends on is one input of segment scan."""

PIPELINE = "scan -> tally;"
SEGMENTS = {"scan": {"inputs": {"packls": "inp-scan-*"}}}
'''
SEGMENTS = {
    "segments/scan.py": (
        "import importlib.metadata as md\n"
        "item = get_input()\n"
        "assert md.version(item['packl']) == item['version']\n"
        "seg_output = [f\"{item['packl']}=={item['version']}\"]\n"
    ),
    "segments/tally.py": "set_output(get_input('scan').upper())\n",
}
SCANS = ["inp-scan-a", "inp-scan-b", "inp-scan-c"]


def pipe_wheel(tmp: Path) -> Path:
    return make_wheel(
        tmp / "pipe",
        "inp-pipe",
        "0.1.0",
        requires=["pipl-pipe", *(f"{s}>=1.0" for s in SCANS)],
        body=PIPELINE_MODULE,
        files=SEGMENTS,
        entry_points={"pipl_pipe.pipeline": {"inp-pipe": "inp_pipe:PIPELINE"}},
    )


def held(project: Project, version: str, tmp: Path) -> list[str]:
    """The outputs of segment tally that product ``inp-pipe-tally VERSION`` holds."""
    with connect(project, "anonymous") as anon:
        [wheel] = [
            lk
            for lk in anon.links(project.stage_index("qa"), "inp-pipe-tally", version)
            if lk.basename.endswith(".whl")
        ]
        manifest = manifest_from_dist(anon.download(wheel.href, tmp / wheel.basename), "product")
    [asset] = [a for a in manifest.assets if a.name == "segment"]
    with project_store(project) as store:
        record = json.loads(store.fetch(asset.sha256, tmp / f"{version}.json").read_text())
    return sorted(v for outs in record["outputs"].values() for v in outs)


@pytest.mark.slow
def test_a_new_input_packl_computes_only_its_instances(ciproj: Project, tmp_path: Path) -> None:
    dev, qa = ciproj.stage_index(), ciproj.stage_index("qa")
    with connect(ciproj, "owner") as owner:
        for scan in SCANS:
            owner.upload(dev, make_wheel(tmp_path / scan, scan, "1.0"))
        run_until_idle(ciproj)
        owner.upload(dev, pipe_wheel(tmp_path))
    jobs = run_until_idle(ciproj)
    first = _job(ciproj, jobs)
    assert first.message.startswith("pipeline inp-pipe: 6 instance(s) ran, 0 reused"), first
    assert held(ciproj, "0.1.0", tmp_path) == [f"{s.upper()}==1.0" for s in SCANS]

    with connect(ciproj, "owner") as owner:
        owner.upload(dev, make_wheel(tmp_path / "b11", "inp-scan-b", "1.1"))
    again = _job(ciproj, run_until_idle(ciproj), remade=True)
    # scan-b's instance and the tally made from it ran; the other inputs' were kept
    assert again.reason.startswith("re-processing for inp-scan-b 1.1"), again
    assert "2 instance(s) ran, 4 reused" in again.message, again.message
    assert "inp-pipe-tally 0.1.0.post1" in again.message
    assert held(ciproj, "0.1.0.post1", tmp_path) == [
        "INP-SCAN-A==1.0",
        "INP-SCAN-B==1.1",
        "INP-SCAN-C==1.0",
    ]
    with connect(ciproj, "anonymous") as anon:
        versions = anon.versions(qa, "inp-pipe-tally", inherited=False)
    assert sorted(versions) == ["0.1.0", "0.1.0.post1"]
    # it pins what it was made from: the pipeline release and this run's input packls
    requires = set(versions["0.1.0.post1"]["requires_dist"])
    assert {"inp-pipe==0.1.0", "inp-scan-b==1.1", "inp-scan-a==1.0"} <= requires, requires


def _job(project: Project, jobs: list[db.Job], *, remade: bool = False) -> db.Job:
    """The process job of inp-pipe on qa: for its upload, or the re-processing."""
    [job] = [
        j
        for j in jobs
        if (j.project, j.handler) == ("inp-pipe", "process")
        and j.index.endswith("/qa")
        and bool(j.reason) == remade
    ]
    log = (outbox.ci_dir(project.root) / "logs" / f"{job.id}.log").read_text()
    assert job.state == "passed", log
    return job


def test_inputs_select_by_name_pattern_or_product_type() -> None:
    dists = [
        {"packl": "scan-a", "version": "1.0", "type": ""},
        {"packl": "scan-b", "version": "2.0", "type": ""},
        {"packl": "chair-rig", "version": "1.1", "type": "rig"},
        {"packl": "other", "version": "1.0", "type": ""},
    ]
    assert matching({"packls": "Scan_*"}, dists) == [
        {"packl": "scan-a", "version": "1.0"},
        {"packl": "scan-b", "version": "2.0"},
    ]
    assert matching({"type": "rig"}, dists) == [
        {"packl": "chair-rig", "version": "1.1", "type": "rig"}
    ]
    with pytest.raises(PipelineError, match="segment s takes products of type 'plate'"):
        packl_inputs({"s": {"inputs": {"type": "plate"}}}, "", dists)
    with pytest.raises(PipelineError, match="'inputs' must be"):
        declared({"s": {"inputs": "scan-*"}})
