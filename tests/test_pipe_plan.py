"""Dry runs (what would run, and which input of a key changed) and targeted runs
(``--until``, ``--only``, ``--force``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipl.errors import PipelineError, UsageError
from pipl.pipe import dry_run, run
from tests.helpers import fails
from tests.helpers import run as cli
from tests.pipe_helpers import copy_example, knights
from tests.test_json_contract import SHAPES, check_shape

SUMMARY = '#multiplex cross_prod group_by "0"\n#depend ../table.csv\nhook("post")\n'


def _knights(tmp_path: Path):
    (tmp_path / "table.csv").write_text("a,b\n")
    return knights(tmp_path, summary=SUMMARY, summary_post="x = 1\n")


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            stat = (Path(root) / name).stat()
            found[str(Path(root, name).relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return found


def _changed(p):
    plan = dry_run(p)
    return {s.name: s.changed for s in plan.segments if s.changed}


def test_dry_run_names_the_input_of_the_key_that_changed(tmp_path):
    p = _knights(tmp_path)
    assert run(p, executor="interactive").ok
    assert _changed(p) == {}
    assert dry_run(p).to_run == 0
    code = tmp_path / "code"

    melt = code / "melt.py"
    original = melt.read_text()
    melt.write_text(original + "# a comment\n")
    assert _changed(p) == {"melt": ["code"], "summary": ["parent melt"]}
    melt.write_text(original)

    (code / "summary_post.py").write_text("x = 2\n")
    assert _changed(p) == {"summary": ["hook post"]}
    (code / "summary_post.py").write_text("x = 1\n")

    (tmp_path / "table.csv").write_text("a,b,c\n")
    assert _changed(p) == {"summary": ["depend ../table.csv"]}
    (tmp_path / "table.csv").write_text("a,b\n")

    p.segments = {"quality": {"params": {"n": 2}}}
    assert _changed(p) == {
        "quality": ["params"],
        "melt": ["parent quality"],
        "summary": ["parent melt"],
    }
    p.segments = {"melt": {"multiplex": "cross_prod where \"knights == 'Galahad'\""}}
    assert _changed(p) == {"melt": ["multiplex"], "summary": ["parent melt"]}
    p.segments = {}

    p.env_lock = "numpy==2.0"
    assert set(_changed(p)) == {"knights", "quality", "melt", "summary"}
    assert _changed(p)["knights"] == ["env"]
    p.env_lock = ""
    assert _changed(p) == {}


def test_dry_run_counts_what_would_run_and_writes_nothing(tmp_path):
    p = _knights(tmp_path)
    never = dry_run(p)
    assert not p.prefix.exists()  # not even the prefix folder
    assert [s.why for s in never.segments] == ["never run"] * 4
    assert never.segment("knights").to_run == 2 and never.segment("melt").unknown

    run(p, executor="interactive")
    p.segments = {"melt": {"params": {"sep": "-"}}}
    before = _snapshot(p.prefix)
    plan = dry_run(p)
    assert _snapshot(p.prefix) == before
    melt, summary = plan.segment("melt"), plan.segment("summary")
    assert (melt.instances, melt.reused, melt.to_run, melt.estimated) == (4, 0, 4, False)
    assert melt.why == "key changed: params"
    # summary's input comes from melt instances not run yet: counted from melt's old outputs
    assert (summary.instances, summary.to_run, summary.estimated) == (1, 1, True)
    assert plan.segment("knights").to_run == 0 and plan.to_run == 5
    # the run does what the dry run said
    report = run(p, executor="interactive")
    assert {s.name: s.ran for s in report.segments} == {
        "knights": 0,
        "quality": 0,
        "melt": 4,
        "summary": 1,
    }
    # going back to the old params: a key change again, but everything is reused
    p.segments = {}
    plan = dry_run(p)
    assert plan.segment("melt").changed == ["params"] and plan.to_run == 0


def test_dry_run_tells_new_inputs_from_failures(tmp_path):
    p = knights(
        tmp_path,
        melt="if get_input('knights') == 'Galahad':\n    raise ValueError('no')\n",
    )
    run(p, executor="interactive")
    p.push(knights=["Lancelot", "Galahad", "Robin"])
    plan = dry_run(p)
    knights_plan, melt = plan.segment("knights"), plan.segment("melt")
    assert (knights_plan.to_run, knights_plan.why) == (1, "1 new")
    # Robin's melts depend on a knights instance not run yet: unknown; Galahad's failed
    assert melt.unknown and melt.failed_before == 2 and "2 failed before" in melt.why
    assert plan.segment("summary").unknown


def test_until_runs_a_segment_and_what_it_needs_only(tmp_path):
    p = knights(tmp_path)
    report = run(p, executor="interactive", until="melt")
    assert report.ok
    assert {s.name: (s.ran, s.skipped) for s in report.segments} == {
        "knights": (2, False),
        "quality": (1, False),
        "melt": (4, False),
        "summary": (0, True),
    }
    assert not list(p.prefix.glob("**/summary_*"))
    assert dry_run(p).segment("summary").to_run == 1


def test_only_needs_its_parents_done(tmp_path):
    p = knights(tmp_path)
    with pytest.raises(PipelineError) as err:
        run(p, executor="interactive", only="summary")
    assert "--only summary: parent segment(s) not done: melt" in str(err.value)
    assert "pipl pipe run --until melt" in str(err.value)
    assert not list(p.prefix.glob("**/knights_*"))  # nothing ran
    run(p, executor="interactive", until="melt")
    report = run(p, executor="interactive", only="summary")
    assert [s.name for s in report.segments if not s.skipped] == ["summary"]
    assert report.segment("summary").ran == 1
    # two segments, one the parent of the other: the parent's parents must be done
    melt = tmp_path / "code" / "melt.py"
    melt.write_text(melt.read_text() + "# changed\n")
    report = run(p, executor="interactive", only=["melt,summary"])
    assert (report.segment("melt").ran, report.segment("summary").ran) == (4, 1)


def test_force_recomputes_a_segment_and_its_descendants(tmp_path):
    ledger = tmp_path / "ledger.txt"
    p = knights(
        tmp_path,
        melt=(
            f"open({str(ledger)!r}, 'a').write('melt\\n')\n"
            "set_output(get_input('knights') + ' ' + get_input('quality'))\n"
        ),
    )
    run(p, executor="interactive")
    assert dry_run(p, force="melt").segment("melt").why == "forced"
    report = run(p, executor="interactive", force="melt")
    assert {s.name: s.ran for s in report.segments} == {
        "knights": 0,
        "quality": 0,
        "melt": 4,
        "summary": 1,
    }
    assert report.segment("melt").forced and ledger.read_text().count("melt") == 8
    # forced outputs replace the old ones: the next run reuses them
    assert sum(s.ran for s in run(p, executor="interactive").segments) == 0


def test_unknown_segments_and_contradictions_are_usage_errors(tmp_path):
    p = knights(tmp_path)
    with pytest.raises(UsageError, match="--until: no segment 'nope' in the pipeline"):
        run(p, until="nope")
    with pytest.raises(UsageError, match="--force: no segment 'melts'"):
        dry_run(p, force="melt,melts")
    with pytest.raises(UsageError, match="--until and --only do not go together"):
        dry_run(p, until="melt", only="summary")


def test_cli_dry_run_and_targets(tmp_path):
    folder = copy_example("knights", tmp_path)
    args = ["-P", str(folder)]
    first = cli(["pipe", "run", *args, "--dry-run"]).output
    assert "?: depends on outputs of instances that have not run yet" in first
    assert "dry run: at least 3 instance(s) would run" in first
    assert not (folder / "pipe-data").exists()
    assert cli(["pipe", "run", *args, "-q"]).exit_code == 0
    init = folder / "knights_pipeline" / "__init__.py"
    init.write_text(
        init.read_text().replace("SEGMENTS = {", 'SEGMENTS = {"melt": {"params": {"n": 1}},')
    )
    result = cli(["pipe", "run", *args, "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "key changed: params" in lines["melt"] and " 4 " in lines["melt"]
    assert "key changed: parent melt" in lines["summary"] and "~1" in lines["summary"]
    assert "dry run: 5 instance(s) would run; nothing was computed" in result.output
    data = json.loads(cli(["pipe", "run", *args, "--dry-run", "--json"]).stdout)
    assert data["kind"] == "pipe-run" and data["data"]["dry_run"] is True
    check_shape(data["data"], SHAPES["pipe-run"], "pipe-run")  # the documented shape
    assert data["data"]["to_run"] == 5
    melt = next(s for s in data["data"]["segments"] if s["segment"] == "melt")
    assert melt["changed"] == ["params"] and melt["to_run"] == 4 and melt["reused"] == 0
    fails(
        cli(["pipe", "run", *args, "--only", "summary", "-q"]),
        10,
        "--only summary: parent segment(s) not done: melt (4 instance(s) to run)",
    )
    result = cli(["pipe", "run", *args, "--until", "melt", "-q"])
    assert result.exit_code == 0 and "not selected: summary, melt_brave, by_knight" in result.output
    fails(cli(["pipe", "run", *args, "--force", "nope"]), 2, "--force: no segment 'nope'")


def test_a_segment_recorded_without_key_inputs_says_so(tmp_path):
    """Data recorded by a pipl that kept no digests: a changed key is named, its cause
    is not."""
    import sqlite3

    p = knights(tmp_path)
    run(p, executor="interactive")
    conn = sqlite3.connect(p.prefix / "pipe.sqlite")
    conn.execute("UPDATE segments SET inputs=''")
    conn.commit()
    conn.close()
    p.segments = {"melt": {"params": {"n": 1}}}
    melt = dry_run(p).segment("melt")
    assert melt.changed == ["unknown (recorded by a pipl that kept no key inputs)"]
    assert melt.to_run == 4
    # a database made before those columns existed: a dry run reads it as it is
    conn = sqlite3.connect(p.prefix / "pipe.sqlite")
    conn.execute("ALTER TABLE segments DROP COLUMN inputs")
    conn.execute("ALTER TABLE segments DROP COLUMN used")
    conn.execute("PRAGMA user_version = 0")  # as a pipl from before schema versions left it
    conn.commit()
    conn.close()
    assert dry_run(p).segment("melt").changed == melt.changed
    conn = sqlite3.connect(p.prefix / "pipe.sqlite")
    columns = {row[1] for row in conn.execute("PRAGMA table_info(segments)")}
    conn.close()
    assert "inputs" not in columns  # not migrated by the dry run
    assert run(p, executor="interactive").segment("melt").ran == 4  # a run migrates it
