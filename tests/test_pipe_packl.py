"""Pipeline and segment packls on the project index: templates, segment environments."""

from __future__ import annotations

import json

import pytest

from pipl.errors import PipelineError
from pipl.packl.build import publish
from pipl.packl.create import create_packl
from pipl.pipe import dry_run, load_pipeline, run
from pipl.workspace.workspace import create_workspace, remove_workspace
from tests.helpers import fails
from tests.helpers import run as cli


@pytest.fixture(scope="module")
def ws(project):
    space = create_workspace(project, "pipes")
    yield space
    remove_workspace(space)


def test_pipeline_packl_from_the_template_runs(project, ws, tmp_path):
    packl = create_packl(project, ws, "demo-pipe", "pipeline")
    result = cli(["pipe", "run", "-P", str(packl.path), "--prefix", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)["data"]
    assert [s["ran"] for s in data["segments"]] == [3, 3]
    values = sorted(int(f.read_text()) for f in tmp_path.glob("source_*/double_*/data/*/*.txt"))
    assert values == [2, 4, 6]


def test_segment_packl_in_its_own_environment_from_the_index(project, ws, owner, tmp_path):
    seg = create_packl(project, ws, "demo-seg", "segment")
    (seg.path / "demo_seg" / "__init__.py").write_text(
        "import sys\n"
        "MULTIPLEX = 'cross_prod'\n"
        "def run(seg):\n"
        "    with open(seg.get_data_fn('where.txt'), 'w') as f:\n"
        "        f.write(sys.prefix)\n"
        "    return [seg.get_input('source') * 10]\n"
        "def check():\n"
        "    return True\n"
    )
    publish(project, ws, seg, owner)
    pipe = create_packl(project, ws, "seg-pipe", "pipeline")
    init = pipe.path / "seg_pipe" / "__init__.py"
    init.write_text(
        init.read_text()
        .replace(
            '"double": {"params": {"factor": 2}},',
            '"double": {"params": {"factor": 2}},\n'
            '    "tens": {"packl": "demo-seg", "env": ["demo-seg"]},',
        )
        .replace("source -> double;", "source -> double;\nsource -> tens;")
    )
    pipeline = load_pipeline(pipe.path, tmp_path / "data")
    assert pipeline.index_url == project.simple_url()
    # a dry run makes no environment, so it cannot read code that lives in one
    with pytest.raises(PipelineError, match="segment tens: its code is in its own environ"):
        dry_run(pipeline)
    assert not (tmp_path / "data").exists()
    report = run(pipeline, jobs=1)
    assert report.ok, report
    tens = report.segment("tens")
    assert tens.ran == 3
    (env,) = [e for e in (tmp_path / "data" / ".envs").iterdir() if e.is_dir()]
    # the instances ran in that environment's interpreter, not this one
    assert {f.read_text() for f in tens.root.glob("data/*/where.txt")} == {str(env)}
    lock = (env / "pipl-lock.txt").read_text()
    assert "demo-seg==0.1.0" in lock
    # cached by its lock: a second run reuses the environment and every instance
    plan = dry_run(load_pipeline(pipe.path, tmp_path / "data"))
    assert plan.segment("tens").reused == 3 and plan.to_run == 0
    report = run(load_pipeline(pipe.path, tmp_path / "data"), jobs=1)
    assert report.segment("tens").reused == 3 and report.segment("tens").ran == 0


def test_publish_a_segment_as_a_product_once_per_key(project, ws, owner, tmp_path):
    packl = create_packl(project, ws, "pub-pipe", "pipeline")
    base = ["-P", str(packl.path), "--prefix", str(tmp_path)]
    publish = ["pipe", "publish", "double", *base, "--json"]
    fails(cli(publish, project=project.root), 10, "segment double", "0 finished")
    assert cli(["pipe", "run", *base, "-q"], project=project.root).exit_code == 0
    first = json.loads(cli(publish, project=project.root).stdout)["data"]
    assert first["name"] == "pub-pipe-double" and not first["already"]
    # the pipeline packl's version, as no product of it was published yet
    assert first["version"] == "0.1.0"
    versions = owner.versions(project.stage_index(), "pub-pipe-double")
    assert first["version"] in versions
    again = json.loads(cli(publish, project=project.root).stdout)["data"]
    assert again["already"] and again["version"] == first["version"]
    # the product's metadata names the key it was made from
    record = versions[first["version"]]
    assert "key " + first["key"] in record.get("summary", "")
    # the pipeline packl is not on the index: the product cannot pin it
    assert [p.partition("==")[0] for p in first["unpinned"]] == ["pub-pipe"]


def test_a_published_segment_pins_the_published_pipeline_packl(project, ws, owner, tmp_path):
    from pipl.assets.gc import manifest_from_dist

    packl = create_packl(project, ws, "pinned-pipe", "pipeline")
    built = publish(project, ws, packl, owner).built
    [wheel] = [f for f in built.files if f.name.endswith(".whl")]
    base = ["-P", str(packl.path), "--prefix", str(tmp_path / "data")]
    assert cli(["pipe", "run", *base, "-q"], project=project.root).exit_code == 0
    done = cli(["pipe", "publish", "double", *base, "--json"], project=project.root)
    data = json.loads(done.stdout)["data"]
    assert data["unpinned"] == []
    index = project.stage_index()
    links = owner.links(index, "pinned-pipe-double", data["version"])
    [link] = [lk for lk in links if lk.basename.endswith(".whl")]
    manifest = manifest_from_dist(owner.download(link.href, tmp_path / link.basename), "product")
    [pin] = manifest.sources
    assert pin == f"pinned-pipe=={built.version}"
    served = {lk.basename: lk.sha256 for lk in owner.release_files(index, *pin.split("=="))}
    assert manifest.source_files[pin] == served and wheel.name in served
