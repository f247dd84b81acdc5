"""What a pipeline packl's products are made from: CI runs the DAG of a pipeline packl
whose middle segment is a segment packl and publishes its leaf; the product pins the
pipeline release and the segment packl with the sha256 of their files on the index, and
the release pages link both ways. The job decides those pins, not the sandbox."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from ci_support import run_until_idle
from helpers import make_wheel

from pipl.api.client import Client
from pipl.assets.gc import manifest_from_dist
from pipl.assets.project_store import project_store
from pipl.ci.builtin.pipeline import checked_sources
from pipl.ci.handlers import HandlerFailed
from pipl.index.session import connect
from pipl.project.project import Project

PIPELINE_MODULE = '''\
"""A pipeline packl: source -> triple -> double, triple from segment packl prov-seg."""

PIPELINE = "source -> triple -> double;"
SEGMENTS = {"triple": {"packl": "prov-triple"}, "double": {"params": {"factor": 2}}}
PUSH = {"source": [1, 2]}
'''
PIPELINE_SEGMENTS = {
    "segments/source.py": "seg_output = [get_input()]\n",
    "segments/double.py": (
        'value = get_input("triple") * params["factor"]\n'
        'with open(get_data_fn("value.txt"), "w") as f:\n'
        '    f.write(f"{value}\\n")\n'
        "set_output(value)\n"
    ),
}
SEGMENT_MODULE = '''\
"""A segment packl: triples its input."""


def run(seg):
    return [seg.get_input("source") * 3]
'''


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def made(ciproj: Project, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """prov-seg 1.0 on the base index, prov-pipe 0.1.0 uploaded to qa (whose CI runs
    ``process``), and where its job published the leaf's product."""
    tmp = tmp_path_factory.mktemp("provenance")
    seg = make_wheel(
        tmp / "seg",
        "prov-seg",
        "1.0",
        requires=["pipl-pipe"],
        body=SEGMENT_MODULE,
        entry_points={"pipl_pipe.segment": {"prov-triple": "prov_seg:run"}},
    )
    pipe = make_wheel(
        tmp / "pipe",
        "prov-pipe",
        "0.1.0",
        requires=["pipl-pipe", "prov-seg"],
        body=PIPELINE_MODULE,
        files=PIPELINE_SEGMENTS,
        entry_points={"pipl_pipe.pipeline": {"prov-pipe": "prov_pipe:PIPELINE"}},
    )
    qa = ciproj.stage_index("qa")
    with connect(ciproj, "owner") as owner:
        owner.upload(ciproj.base_index, seg)
        owner.upload(qa, pipe)
    job = next(
        j
        for j in run_until_idle(ciproj)
        if (j.project, j.index, j.handler) == ("prov-pipe", qa, "process")
    )
    log = (ciproj.root / ".pipl" / "ci" / "logs" / f"{job.id}.log").read_text()
    assert job.state == "passed", log
    words = job.message.rpartition("published prov-pipe-double ")[2].split()
    version, target = words[0], words[-1]
    with connect(ciproj, "anonymous") as anon:
        [wheel] = [
            lk
            for lk in anon.links(target, "prov-pipe-double", version)
            if lk.basename.endswith(".whl")
        ]
        local = anon.download(wheel.href, tmp / wheel.basename)
        served = {lk.basename: lk.sha256 for lk in anon.release_files(target, "prov-pipe", "0.1.0")}
    return {
        "pipe": pipe,
        "seg": seg,
        "version": version,
        "target": target,
        "stage": target.partition("/")[2],
        "manifest": manifest_from_dist(local, "prov-pipe-double"),
        "served": served,
    }


def test_the_product_pins_the_pipeline_release_and_its_segment_packl(
    ciproj: Project, made: dict[str, Any], tmp_path: Path
) -> None:
    manifest = made["manifest"]
    assert list(manifest.sources) == ["prov-pipe==0.1.0", "prov-seg==1.0"]
    # the bytes it was made from: the files of those releases on the index
    pipe, seg = made["pipe"], made["seg"]
    assert manifest.source_files["prov-pipe==0.1.0"] == {pipe.name: sha(pipe)}
    assert made["served"] == {pipe.name: sha(pipe)}
    assert manifest.source_files["prov-seg==1.0"] == {seg.name: sha(seg)}
    # segment.json says where each upstream segment's code came from
    [asset] = [a for a in manifest.assets if a.name == "segment"]
    with project_store(ciproj) as store:
        record = json.loads(store.fetch(asset.sha256, tmp_path / "segment.json").read_text())
    assert record["sources"] == ["prov-pipe==0.1.0", "prov-seg==1.0"]
    assert record["pipeline"] == "prov-pipe" and record["version"] == "0.1.0"
    assert {s: u["dist"] for s, u in record["upstream"].items()} == {
        "double": "prov-pipe==0.1.0",
        "triple": "prov-seg==1.0",
        "source": "prov-pipe==0.1.0",
    }


def test_release_pages_show_made_from_and_made_into(ciproj: Project, made: dict[str, Any]) -> None:
    from pipl.web.server import WebServer

    with Client.from_project(ciproj.root) as client:
        pipeline = client.releases.get("qa", "prov-pipe", "0.1.0")
        product = client.releases.get(made["stage"], "prov-pipe-double", made["version"])
    assert ("prov-pipe-double", made["version"]) in [
        (c.product, c.version) for c in pipeline.consumers
    ]
    upstream = {(u.name, u.version): u for u in product.upstream}
    assert set(upstream) == {("prov-pipe", "0.1.0"), ("prov-seg", "1.0")}
    made_from = upstream[("prov-pipe", "0.1.0")]
    assert made_from.stage == "qa" and made_from.matches
    assert made_from.files == {made["pipe"].name: sha(made["pipe"])}
    server = WebServer(ciproj)
    url = server.start()
    try:
        page = httpx.get(f"{url}/releases/qa/prov-pipe/0.1.0").text
        back = httpx.get(f"{url}/releases/{made['stage']}/prov-pipe-double/{made['version']}")
    finally:
        server.stop()
    assert f"/releases/{made['stage']}/prov-pipe-double/{made['version']}" in page
    assert 'href="/releases/qa/prov-pipe/0.1.0"' in back.text


RECORD = {
    "pipeline": "prov-pipe",
    "segment": "double",
    "key": "0123456789",
    "upstream": {
        "double": {"key": "0123456789", "dist": ""},
        "triple": {"key": "abcdef0123", "dist": "prov-seg==1.0"},
    },
    "sources": ["not-this==6.6"],
}


def test_the_job_decides_the_pins_not_the_sandbox() -> None:
    record, sources = checked_sources("prov-pipe", "0.2.0", json.loads(json.dumps(RECORD)))
    assert sources == ["prov-pipe==0.2.0", "prov-seg==1.0"]
    assert record["sources"] == sources and record["version"] == "0.2.0"
    assert record["upstream"]["double"]["dist"] == "prov-pipe==0.2.0"

    def refused(dist: object, *words: str) -> None:
        bad = json.loads(json.dumps(RECORD))
        bad["upstream"]["triple"]["dist"] = dist
        with pytest.raises(HandlerFailed) as exc:
            checked_sources("prov-pipe", "0.2.0", bad)
        for word in words:
            assert word in str(exc.value)

    refused("prov-pipe==0.1.0", "0.1.0", "0.2.0")  # another release of the pipeline
    refused("prov-seg>=1.0", "exact pin")
    refused("prov-seg==1.0; os_name == 'nt'", "exact pin")
    refused("../evil==1.0", "exact pin")
    refused("prov-seg==not.a version", "exact pin")
    refused(["prov-seg==1.0"], "exact pin")
    refused("prov-seg==1.0.dev.x", "version")
    bad = json.loads(json.dumps(RECORD))
    bad["upstream"]["triple"]["key"] = "../x"
    with pytest.raises(HandlerFailed, match="bad key"):
        checked_sources("prov-pipe", "0.2.0", bad)
