"""``pipl pipe`` commands, the examples, and the executors agreeing with each other."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipl.pipe import load_pipeline, prepare, run
from pipl.pipe.db import open_db
from tests.helpers import fails
from tests.helpers import run as cli
from tests.pipe_helpers import copy_example


@pytest.fixture
def knights_dir(tmp_path):
    return copy_example("knights", tmp_path)


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["data"]


def test_run_status_push_rebuild_clean(knights_dir):
    p = ["-P", str(knights_dir)]
    data = _json(cli(["pipe", "run", *p, "-j", "2", "--json"]))
    ran = {s["segment"]: s["ran"] for s in data["segments"]}
    assert data["ok"] and ran == {
        "knights": 2,
        "quality": 1,
        "melt": 4,
        "summary": 1,
        "melt_brave": 2,
        "by_knight": 2,
    }
    summary = next(knights_dir.glob("pipe-data/knights_*/melt_*/summary_*/data/*/summary.txt"))
    assert summary.read_text().splitlines() == [
        "Galahad the Brave",
        "Galahad the Pure",
        "Lancelot the Brave",
        "Lancelot the Pure",
    ]
    brave = sorted(knights_dir.glob("pipe-data/knights_*/melt_brave_*/data/*/result.txt"))
    assert [f.read_text() for f in brave] == ["Galahad the Brave\n", "Lancelot the Brave\n"]
    by_knight = sorted(knights_dir.glob("pipe-data/knights_*/by_knight_*/data/*/qualities.txt"))
    assert [f.read_text() for f in by_knight] == [
        "Galahad: the Brave, the Pure\n",
        "Lancelot: the Brave, the Pure\n",
    ]

    result = cli(["pipe", "push", "knights", "Robin", *p])
    assert "knights: 1 pushed input(s)" in result.output
    data = _json(cli(["pipe", "run", *p, "--json"]))
    ran = {s["segment"]: s["ran"] for s in data["segments"]}
    assert ran == {
        "knights": 1,
        "quality": 0,
        "melt": 2,
        "summary": 1,
        "melt_brave": 1,
        "by_knight": 1,
    }

    status = _json(cli(["pipe", "status", *p, "--json"]))
    assert {s["segment"]: s["done"] for s in status["segments"]}["melt"] == 6
    assert status["runs"][0]["ran"] == 6 and status["runs"][0]["status"] == "done"
    human = cli(["pipe", "status", *p]).output
    assert "melt" in human and "last run 2 (local): done, 6 ran" in human

    (knights_dir / "pipe-data" / "pipe.sqlite").unlink()
    assert "6 segment(s), 18 instance(s) recorded" in cli(["pipe", "rebuild-db", *p]).output
    data = _json(cli(["pipe", "run", *p, "--json"]))
    assert sum(s["ran"] for s in data["segments"]) == 0

    quality = knights_dir / "knights_pipeline" / "segments" / "quality.py"
    quality.write_text("set_output(['the Brave'])\n")
    data = _json(cli(["pipe", "run", *p, "--json"]))
    assert {s["segment"]: s["instances"] for s in data["segments"]}["melt"] == 3
    result = cli(["pipe", "clean", *p])
    assert "5 segment folder(s) removed" in result.output  # all but knights
    assert len(list(knights_dir.glob("pipe-data/quality_*"))) == 1


def test_run_failure_is_one_error_line_naming_the_log(knights_dir):
    melt = knights_dir / "knights_pipeline" / "segments" / "melt.py"
    melt.write_text("raise KeyError('no horse')\n")
    result = cli(["pipe", "run", "-P", str(knights_dir), "-q"])
    fails(
        result,
        10,
        "6 instance(s) failed",
        "KeyError: 'no horse'",
        "instance.log",
        "not run: summary",
    )
    assert "melt" in result.stdout  # the table is shown first
    status = cli(["pipe", "status", "-P", str(knights_dir)]).output
    assert "failed: melt/" in status


def test_bad_definitions_and_pushes_are_one_line_errors(knights_dir, tmp_path):
    init = knights_dir / "knights_pipeline" / "__init__.py"
    original = init.read_text()
    init.write_text(original.replace("quality -> melt;", "quality -> melt -> knights;"))
    fails(cli(["pipe", "run", "-P", str(knights_dir)]), 10, "pipeline line 3", "makes a cycle")
    init.write_text(original)
    fails(cli(["pipe", "push", "melt", "x", "-P", str(knights_dir)]), 2, "melt has parents")
    fails(cli(["pipe", "status", "-P", str(tmp_path)]), 10, "is not a pipeline packl")
    summary = knights_dir / "knights_pipeline" / "segments" / "summary.py"
    summary.write_text(summary.read_text().replace('"0"', '"melt.nope"'))
    fails(
        cli(["pipe", "run", "-P", str(knights_dir), "-q"]),
        10,
        'segment summary: group_by expression "melt.nope" failed',
        "AttributeError",
    )


def test_graph_dot_and_drawings(knights_dir, tmp_path):
    result = cli(["pipe", "graph", "-P", str(knights_dir)])
    assert result.output.startswith("digraph knights_pipeline {")
    assert "  knights -> melt;\n" in result.output and "  melt -> summary;\n" in result.output
    out = tmp_path / "p.svg"
    result = cli(["pipe", "graph", "-P", str(knights_dir), "--format", "svg", "-o", str(out)])
    if shutil.which("dot") is None:
        fails(result, 10, "needs graphviz's 'dot' program")
    else:
        assert result.exit_code == 0 and b"<svg" in out.read_bytes()


def test_graph_checks_what_run_checks(knights_dir):
    args = ["pipe", "graph", "-P", str(knights_dir)]
    init = knights_dir / "knights_pipeline" / "__init__.py"
    original = init.read_text()
    init.write_text(original.replace("knights -> by_knight;", "knights -> by_knight -> lost;"))
    fails(cli(args), 10, "pipeline line 6: no code for segment lost", "lost.py")
    init.write_text(original.replace("cross_prod where", "cross_prod sometimes where"))
    fails(cli(args), 10, "segment melt_brave: cannot read multiplex directive")
    init.write_text(original.replace("quality -> melt;", "quality -> melt -> knights;"))
    fails(cli(args), 10, "pipeline line 3", "makes a cycle")
    summary = knights_dir / "knights_pipeline" / "segments" / "summary.py"
    init.write_text(original)
    summary.write_text("# depend missing.csv\n" + summary.read_text())
    fails(cli(args), 10, "segment summary: #depend missing.csv: no such file")


def test_fft_example_filters_every_image(tmp_path):
    folder = copy_example("fft", tmp_path)
    report = run(load_pipeline(folder), jobs=2)
    assert report.ok and report.segment("convol").ran == 4
    smooth = sorted(folder.glob("pipe-data/fftimg_*/convol_*/data/*/smooth.npy"))
    images = sorted(folder.glob("pipe-data/fftimg_*/data/*/image.npy"))
    assert len(smooth) == len(images) == 4
    for s, i in zip(smooth, images, strict=True):
        image, filtered = np.load(i), np.load(s)
        assert np.isclose(filtered.sum(), image.sum())  # the filter keeps the mean
        assert filtered.max() < image.max()  # and spreads the points
    log = next(folder.glob("pipe-data/fftimg_*/convol_*/data/*/instance.log")).read_text()
    assert "filtered with sigma 3.0" in log


def _results(pipeline):
    """Every segment's outputs and every file's content, by instance."""
    found = {}
    with open_db(pipeline.prefix) as db:
        for seg in prepare(pipeline):
            found[seg.name] = sorted(map(repr, db.done(seg.key).items()))
    files = {
        str(f.relative_to(pipeline.prefix)): f.read_bytes()
        for f in pipeline.prefix.rglob("*.txt")
        if f.name != "instance.log"
    }
    return found, files


def test_executors_agree(tmp_path):
    outcomes = []
    for executor in ("interactive", "local", "dask"):
        folder = copy_example("knights", tmp_path / executor)
        pipeline = load_pipeline(folder)
        pipeline.push(knights=["Lancelot", "Galahad", "Robin", "Bedevere"])
        report = run(pipeline, executor=executor, jobs=2)
        assert report.ok and report.executor == executor
        assert report.segment("melt").ran == 8
        outcomes.append(_results(pipeline))
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert len(outcomes[0][1]) == 8 + 1 + 4 + 4  # melt, summary, melt_brave, by_knight files


def test_examples_have_no_stored_data():
    examples = Path(__file__).resolve().parent.parent / "examples"
    assert not list(examples.glob("*/pipe-data"))


def test_installed_pipeline_module_loads_like_its_folder(tmp_path, monkeypatch):
    """What the template's ``pipl.process`` entry point runs: the pipeline of an importable
    module (its segments/ beside it), data under PIPL_PIPE_PREFIX when set."""
    from pipl.pipe import load_module_pipeline

    folder = copy_example("knights", tmp_path)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PIPL_PIPE_PREFIX", str(tmp_path / "kept"))
    pipeline = load_module_pipeline("knights_pipeline", tmp_path / "ignored")
    assert pipeline.prefix == tmp_path / "kept"
    assert pipeline.code_dir == folder / "knights_pipeline" / "segments"
    report = run(pipeline, executor="interactive")
    assert report.ok and report.segment("melt").ran == 4
    assert run(load_module_pipeline("knights_pipeline", tmp_path)).segment("melt").reused == 4


def _cmb_packl(folder: Path) -> Path:
    """A pipeline packl like Pipelet's cmb example: an orphan segment fed with tuples."""
    module = folder / "cmb_pipeline"
    (module / "segments").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "cmb-pipeline"\nversion = "0.1.0"\n\n[tool.pipl]\nkind = "pipeline"\n'
    )
    (module / "__init__.py").write_text('PIPELINE = "cmb;"\nPUSH = {"cmb": [(64, 1)]}\n')
    (module / "segments" / "cmb.py").write_text(
        "nside, sim_id = get_input()\nset_output([(type(get_input()).__name__, sim_id)])\n"
    )
    return folder


def test_pushed_values_keep_their_type(tmp_path):
    from pipl.pipe.pipeline import read_pushed, store_push
    from pipl.pipe.recipe import recorded_pipeline

    folder = _cmb_packl(tmp_path / "cmb")
    args = ["-P", str(folder)]
    values = ["[64, 1]", "[64, 2]", '{"$tuple": [64, 3]}']
    result = cli(["pipe", "push", "--json-values", "cmb", *values, *args])
    assert "cmb: 3 pushed input(s)" in result.output
    prefix = folder / "pipe-data"
    stored = json.loads((prefix / "push.json").read_text())
    assert stored["pipl-push"] == 2
    assert stored["segments"]["cmb"] == [[64, 1], [64, 2], {"$tuple": [64, 3]}]
    assert read_pushed(prefix) == {"cmb": [[64, 1], [64, 2], (64, 3)]}
    assert store_push(prefix, "cmb", [(64, 2)]) == 3  # the same input as [64, 2]

    # PUSH's (64, 1) and the pushed [64, 1] are one instance, which gets the tuple
    pipeline = load_pipeline(folder)
    report = run(pipeline, executor="interactive")
    assert report.ok and report.segment("cmb").ran == 3
    with open_db(prefix) as db:
        outputs = sorted(
            (v for out in db.done(report.segment("cmb").key).values() for v in out),
            key=lambda v: v[1],
        )
    assert outputs == [("tuple", 1), ("list", 2), ("tuple", 3)]
    # the pipeline recorded for runs from the dashboard keeps the tuple too
    assert recorded_pipeline(prefix).pushed == {"cmb": [(64, 1)]}

    # push.json files written before the typed form are read as they are
    (prefix / "push.json").write_text('{"cmb": [[7, 7]]}\n')
    assert read_pushed(prefix) == {"cmb": [[7, 7]]}
    assert store_push(prefix, "cmb", [(7, 7), (8, 8)]) == 2
    assert read_pushed(prefix) == {"cmb": [[7, 7], (8, 8)]}
