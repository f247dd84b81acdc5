"""Running pipelines: the segment environment, keys, storage, failures, resuming."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time

from pipl.pipe import Pipeline, prepare, run
from pipl.pipe.db import open_db, rebuild
from tests.pipe_helpers import knights, scripts

ENV_SCRIPTS = {
    "a": (
        "threshold = 3\n"
        "save_param(['threshold'])\n"
        "open(get_data_fn('a.txt'), 'w').write(str(get_input()))\n"
        "seg_output = [get_input()]\n"
    ),
    "b": (
        "from pipl_pipe.segment import get_input as imported_get_input\n"
        "value = imported_get_input('a')\n"
        "assert get_data_fn('a.txt', seg='a').endswith('a.txt')\n"
        "parent_files = glob_parent('*.txt')\n"
        "all_a = glob_seg('a', 'a.txt')\n"
        "load_param('a', names=['threshold'])\n"
        "tmp = get_tmp_fn()\n"
        "big = value > threshold\n"
        "expose(['big'])\n"
        "table = {'value': value}\n"
        "save_products('prod.pkl', globals(), ['table'])\n"
        "del table\n"
        "load_products('prod.pkl', globals(), ['table'])\n"
        "logged_subprocess([sys_executable, '-c', 'print(\"hello from a child\")'], 'child')\n"
        "logger.info('value %s', value)\n"
        "print('printed, not on stdout')\n"
        "hook('finish')\n"
        "set_output({'value': value, 'files': len(parent_files), 'all': len(all_a),\n"
        "            'tmp': os.path.exists(tmp), 'big': big, 'table': table, 'doubled': doubled})\n"
    ),
    "b_finish": "import os, sys\ndoubled = value * 2\n",
}


def test_segment_environment(tmp_path):
    code = scripts(tmp_path / "code", **ENV_SCRIPTS)
    # the hook runs after the names it defines are used: give them a prologue
    (code / "b.py").write_text(
        "import os, sys\nsys_executable = sys.executable\ndoubled = None\n"
        + (code / "b.py").read_text()
    )
    p = Pipeline("a -> b;", code, tmp_path / "data")
    p.push(a=[2, 5])
    report = run(p, executor="interactive")
    assert report.ok, report
    with open_db(p.prefix) as db:
        outputs = sorted(
            (v for out in db.done(prepare(p)[1].key).values() for v in out),
            key=lambda o: o["value"],
        )
    assert outputs == [
        {
            "value": 2,
            "files": 1,
            "all": 2,
            "tmp": True,
            "big": False,
            "table": {"value": 2},
            "doubled": 4,
        },
        {
            "value": 5,
            "files": 1,
            "all": 2,
            "tmp": True,
            "big": True,
            "table": {"value": 5},
            "doubled": 10,
        },
    ]
    (b_inst,) = [d for d in (tmp_path / "data").glob("a_*/b_*/data/*") if d.name.startswith("5")]
    assert (b_inst / "child.log").read_text() == "hello from a child\n"
    log = (b_inst / "instance.log").read_text()
    assert "INFO value 5" in log and "printed, not on stdout" in log
    params = pickle.loads((b_inst / ".params.pkl").read_bytes())  # noqa: S301  # made here
    assert params == {"values": {"big": True}, "exposed": ["big"]}


def test_storage_layout_keeps_code_params_and_logs(tmp_path):
    p = knights(tmp_path)
    p.segments = {"melt": {"params": {"sep": " "}}}
    run(p, executor="interactive")
    (melt,) = (tmp_path / "data").glob("knights_*/melt_*")
    assert (melt / "code" / "melt.py").read_text() == (tmp_path / "code" / "melt.py").read_text()
    assert json.loads((melt / "params.json").read_text()) == {"sep": " "}
    meta = json.loads((melt / "segment.json").read_text())
    assert set(meta["parents"]) == {"knights", "quality"}
    instances = sorted(d.name for d in (melt / "data").iterdir())
    assert len(instances) == 4 and instances[0].startswith("Galahad-the_Brave_")
    logs = [(melt / "data" / i / "instance.log").read_text() for i in instances]
    assert "INFO melting Galahad" in logs[0] and "INFO melting Lancelot" in logs[-1]
    # an instance that says nothing has no log file
    (quality_instance,) = (tmp_path / "data").glob("quality_*/data/*")
    assert not (quality_instance / "instance.log").exists()
    assert (melt / "data" / instances[0] / "result.txt").read_text() == "Galahad the Brave\n"


def _ran(report):
    return {s.name: s.ran for s in report.segments}


def test_changing_a_segment_recomputes_it_and_descendants_only(tmp_path):
    p = knights(tmp_path)
    assert _ran(run(p, executor="interactive")) == {
        "knights": 2,
        "quality": 1,
        "melt": 4,
        "summary": 1,
    }
    assert _ran(run(p, executor="interactive")) == {
        "knights": 0,
        "quality": 0,
        "melt": 0,
        "summary": 0,
    }
    melt = tmp_path / "code" / "melt.py"
    melt.write_text(melt.read_text() + "# a comment changes the code\n")
    assert _ran(run(p, executor="interactive")) == {
        "knights": 0,
        "quality": 0,
        "melt": 4,
        "summary": 1,
    }
    p.segments = {"summary": {"params": {"title": "all"}}}
    assert _ran(run(p, executor="interactive"))["summary"] == 1
    assert _ran(run(p, executor="interactive"))["summary"] == 0


def test_hooks_and_depend_files_are_in_the_key(tmp_path):
    p = knights(
        tmp_path,
        summary='#multiplex cross_prod group_by "0"\n#depend ../table.csv\nhook("post")\n',
        summary_post="x = 1\n",
    )
    (tmp_path / "table.csv").write_text("a,b\n")
    run(p, executor="interactive")
    (tmp_path / "code" / "summary_post.py").write_text("x = 2\n")
    assert _ran(run(p, executor="interactive"))["summary"] == 1
    (tmp_path / "table.csv").write_text("a,b,c\n")
    report = run(p, executor="interactive")
    assert _ran(report) == {"knights": 0, "quality": 0, "melt": 0, "summary": 1}
    copies = {f.name for f in report.segment("summary").root.joinpath("code").iterdir()}
    assert copies == {"summary.py", "summary_post.py", "table.csv"}


def test_one_new_input_computes_only_the_new_instances(tmp_path):
    p = knights(tmp_path)
    run(p, executor="interactive")
    p.push(knights=["Lancelot", "Galahad", "Robin"])
    report = run(p, executor="interactive")
    assert _ran(report) == {"knights": 1, "quality": 0, "melt": 2, "summary": 1}
    assert report.segment("melt").reused == 4


def test_a_raising_segment_fails_its_descendants_only(tmp_path):
    p = knights(
        tmp_path,
        melt=(
            "knight, quality = get_input('knights'), get_input('quality')\n"
            "if knight == 'Galahad' and quality == 'the Pure':\n"
            "    raise ValueError('too pure')\n"
            "set_output(knight + ' ' + quality)\n"
        ),
        other="set_output(get_input('melt') + '!')\n",
    )
    p.dot += " melt -> other; quality -> side; "
    (tmp_path / "code" / "side.py").write_text("set_output(1)\n")
    report = run(p, executor="local", jobs=2)
    assert not report.ok
    melt = report.segment("melt")
    assert (melt.ran, melt.failed) == (3, 1)
    name, error, log = melt.failures[0]
    assert name.startswith("Galahad-the_Pure") and error == "ValueError: too pure"
    assert "Traceback" in log.read_text() and "raise ValueError('too pure')" in log.read_text()
    assert report.segment("summary").blocked == "waits for failed instances of melt"
    assert report.segment("other").ran == 3  # the three good melts go on
    assert report.segment("side").ran == 2  # one per quality
    # fixed: only the failed instance and what waited for it run
    melt_py = tmp_path / "code" / "melt.py"
    melt_py.write_text(melt_py.read_text().replace("too pure", "still too pure"))
    report = run(p, executor="local", jobs=2)
    assert report.segment("melt").ran == 3  # a new key: all of melt again
    melt_py.write_text(melt_py.read_text().replace("    raise", "    pass  #"))
    report = run(p, executor="interactive")
    assert report.ok and report.segment("summary").ran == 1


def test_failed_instances_run_again_without_code_change(tmp_path):
    flag = tmp_path / "flag"
    p = knights(
        tmp_path,
        melt=(
            "import os\n"
            f"if get_input('knights') == 'Galahad' and not os.path.exists({str(flag)!r}):\n"
            "    raise RuntimeError('not yet')\n"
        ),
    )
    report = run(p, executor="interactive")
    assert report.segment("melt").failed == 2
    flag.write_text("")
    report = run(p, executor="interactive")
    assert (report.segment("melt").reused, report.segment("melt").ran) == (2, 2)


def test_database_rebuilt_from_disk_gives_the_same_reuse(tmp_path):
    p = knights(tmp_path)
    run(p, executor="local", jobs=2)
    (p.prefix / "pipe.sqlite").unlink()
    assert rebuild(p.prefix) == {"segments": 4, "instances": 8}
    assert sum(_ran(run(p, executor="interactive")).values()) == 0
    # without any database the folders are still found (a killed run's case)
    for f in p.prefix.glob("pipe.sqlite*"):
        f.unlink()
    report = run(p, executor="interactive")
    assert sum(_ran(report).values()) == 0 and report.segment("melt").reused == 4


def test_a_killed_run_resumes_without_redoing_finished_instances(tmp_path):
    ledger = tmp_path / "ledger.txt"
    code = scripts(
        tmp_path / "code",
        n="seg_output = [get_input()]\n",
        slow=(
            "import time\n"
            f"with open({str(ledger)!r}, 'a') as f: f.write(str(get_input()) + '\\n')\n"
            "time.sleep(0.1)\n"
        ),
    )
    prog = (
        "import sys; from pathlib import Path; from pipl.pipe import Pipeline, run\n"
        f"p = Pipeline('n -> slow;', Path({str(code)!r}), Path({str(tmp_path / 'data')!r}))\n"
        "p.push(n=list(range(60)))\n"
        "r = run(p, executor='local', jobs=1)\n"
        "print(r.segment('slow').reused, r.segment('slow').ran)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", prog], start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        if ledger.exists() and len(ledger.read_text().splitlines()) >= 20:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = ledger.read_text().splitlines()
    assert 20 <= len(before) < 60
    out = subprocess.run(
        [sys.executable, "-c", prog], capture_output=True, text=True, check=True
    ).stdout.split()
    reused, ran = int(out[0]), int(out[1])
    assert reused + ran == 60
    assert reused >= len(before) - 1  # at most the instance running at the kill
    counts = {}
    for line in ledger.read_text().splitlines():
        counts[line] = counts.get(line, 0) + 1
    assert len(counts) == 60 and sum(1 for c in counts.values() if c > 1) <= 1


def test_a_worker_that_dies_fails_its_batch_and_is_replaced(tmp_path):
    p = knights(
        tmp_path,
        melt=(
            "import os\n"
            "if get_input('knights') == 'Galahad' and get_input('quality') == 'the Pure':\n"
            "    os._exit(3)\n"
        ),
    )
    p.push(knights=["Lancelot", "Galahad", "Robin", "Bedevere"])
    report = run(p, executor="local", jobs=2)
    melt = report.segment("melt")
    assert melt.failed >= 1 and melt.ran + melt.failed == 8
    assert any("worker process died (exit 3)" in error for _, error, _ in melt.failures)
    assert report.segment("summary").blocked
