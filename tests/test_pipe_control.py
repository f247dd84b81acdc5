"""Execution control: retries of passing failures, per-instance timeouts, cancelling a
run from outside, and workers that die with their run (kill -9 included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipl.errors import PipelineError, UsageError
from pipl.pipe import Pipeline, run
from pipl.pipe.control import request_cancel, wait_ended
from pipl.pipe.db import open_db
from tests.helpers import fails, pipl_argv
from tests.helpers import run as cli
from tests.pipe_helpers import (
    alive,
    executions,
    scripts,
    slow_code,
    start_slow_run,
    wait_until,
)

# 'flaky' fails once with a passing error, 'down' always with one, 'broken' with a bug
FLAKY = (
    "import os\n"
    "value = get_input()\n"
    "counts = os.path.join({counts!r}, value)\n"
    "with open(counts, 'a') as f: f.write('x')\n"
    "attempt = len(open(counts).read())\n"
    "print('attempt', attempt, 'of', value)\n"
    "if value == 'flaky' and attempt < 2:\n"
    "    raise ConnectionResetError('the network hiccuped')\n"
    "if value == 'down':\n"
    "    raise TimeoutError('the service is down')\n"
    "if value == 'broken':\n"
    "    raise ValueError('a bug, not a hiccup')\n"
)


def _flaky(tmp: Path, spec: dict) -> tuple[Pipeline, Path]:
    counts = tmp / "counts"
    counts.mkdir()
    code = scripts(tmp / "code", src="seg_output = [get_input()]\n")
    scripts(code, work=FLAKY.format(counts=str(counts)))
    p = Pipeline("src -> work;", code, tmp / "data", segments={"work": spec})
    p.push(src=["fine", "flaky", "down", "broken"])
    return p, counts


def _attempts(counts: Path) -> dict[str, int]:
    return {f.name: len(f.read_text()) for f in counts.iterdir()}


@pytest.mark.parametrize("executor", ["local", "interactive"])
def test_passing_failures_are_retried_and_others_are_not(tmp_path, executor):
    p, counts = _flaky(tmp_path, {"retries": 2})  # retry_on defaults to OSError
    notices: list[str] = []
    report = run(p, executor=executor, jobs=2, notice=notices.append)
    work = report.segment("work")
    # ConnectionResetError and TimeoutError are OSErrors; ValueError is not
    assert _attempts(counts) == {"fine": 1, "flaky": 2, "down": 3, "broken": 1}
    assert (work.ran, work.failed, work.retried) == (2, 2, 3)
    assert sorted(n.split(":")[0].split("_")[0] for n in notices) == [
        "work/down",
        "work/down",
        "work/flaky",
    ]
    assert any(
        "attempt 1 of 3 failed (ConnectionResetError: the network hiccuped)" in n for n in notices
    )
    errors = {name.split("_")[0]: error for name, error, _ in work.failures}
    assert errors["down"] == "TimeoutError: the service is down"
    assert errors["broken"] == "ValueError: a bug, not a hiccup"
    # every attempt's log is kept in the instance's log, one after the other
    log = next(p.prefix.glob("src_*/work_*/data/flaky_*/instance.log")).read_text()
    assert log.index("attempt 1 of flaky") < log.index("ConnectionResetError")
    assert log.index("--- attempt 2 ---") < log.index("attempt 2 of flaky")
    with open_db(p.prefix) as db:
        rows = {
            name.split("_")[0]: attempts
            for name, attempts in db.conn.execute(
                "SELECT name, attempts FROM instances WHERE key=?", (work.key,)
            )
        }
        assert db.runs(1)[0]["failed"] == 2 and db.runs(1)[0]["ran"] == 2 + 4
    assert rows == {"fine": 1, "flaky": 2, "down": 3, "broken": 1}


def test_retry_on_names_the_exceptions_that_count(tmp_path):
    p, counts = _flaky(tmp_path, {"retries": 1, "retry_on": ["ValueError"]})
    report = run(p, executor="interactive")
    assert _attempts(counts) == {"fine": 1, "flaky": 1, "down": 1, "broken": 2}
    assert report.segment("work").failed == 3


def test_without_retries_a_failure_stays_failed(tmp_path):
    p, counts = _flaky(tmp_path, {})
    assert run(p, executor="interactive").segment("work").failed == 3
    assert set(_attempts(counts).values()) == {1}


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"retries": -1}, "'retries' must be a whole number"),
        ({"retries": "2"}, "'retries' must be a whole number"),
        ({"retry_on": ["not a name"]}, "'retry_on' must be a list of exception names"),
        ({"timeout": 0}, "'timeout' must be a number of seconds above 0"),
    ],
)
def test_bad_policies_are_refused_before_anything_runs(tmp_path, spec, needle):
    p, counts = _flaky(tmp_path, spec)
    with pytest.raises(PipelineError, match=needle) as caught:
        run(p, executor="interactive")
    assert str(caught.value).startswith("segment work:") and "\n" not in str(caught.value)
    assert not list(counts.iterdir())


HANG = (
    "import os, subprocess, time\n"
    "value = get_input()\n"
    "with open({ledger!r}, 'a') as f: f.write(f'{{value}} {{os.getpid()}}\\n')\n"
    "if value == 4:\n"
    "    child = subprocess.Popen(['sleep', '120'])\n"
    "    with open({ledger!r}, 'a') as f: f.write(f'child {{child.pid}}\\n')\n"
    "    time.sleep(120)\n"
)


def _hanging(tmp: Path, spec: dict) -> tuple[Pipeline, Path]:
    ledger = tmp / "ledger.txt"
    code = scripts(tmp / "code", src="seg_output = [get_input()]\n")
    scripts(code, work=HANG.format(ledger=str(ledger)))
    p = Pipeline("src -> work;", code, tmp / "data", segments={"work": spec})
    p.push(src=list(range(12)))  # one worker: batches of 3, instance 4 in the middle of one
    return p, ledger


def _ledger(ledger: Path) -> list[tuple[str, int]]:
    return [(a, int(b)) for a, b in (line.split() for line in ledger.read_text().splitlines())]


def test_an_instance_over_its_timeout_is_stopped_and_its_worker_replaced(tmp_path):
    p, ledger = _hanging(tmp_path, {"timeout": 1.5, "retries": 2})
    started = time.monotonic()
    report = run(p, executor="local", jobs=1)
    assert time.monotonic() - started < 30
    work = report.segment("work")
    assert (work.ran, work.failed, work.retried) == (11, 1, 0)  # OSError only: not retried
    name, error, log = work.failures[0]
    assert name.startswith("4_") and error.startswith("InstanceTimeout: ran over its 1.5s timeout")
    assert "InstanceTimeout" in log.read_text()
    lines = _ledger(ledger)
    runs = [value for value, _ in lines if value != "child"]
    assert sorted(runs, key=int) == [str(i) for i in range(12)]  # 5 ran after it, on a new worker
    pid_of = {value: pid for value, pid in lines}
    assert pid_of["3"] == pid_of["4"] != pid_of["5"]
    # the worker and what the instance started are gone
    wait_until(lambda: not alive(pid_of["4"]) and not alive(pid_of["child"]), 5, "the kill")


def test_a_timeout_is_retried_when_listed(tmp_path):
    p, ledger = _hanging(tmp_path, {"retries": 1, "retry_on": ["TimeoutError"]})
    p.push(src=[3, 4])
    report = run(p, executor="local", jobs=1, timeout=1)
    work = report.segment("work")
    assert (work.ran, work.failed, work.retried) == (1, 1, 1)
    assert [v for v, _ in _ledger(ledger) if v == "4"] == ["4", "4"]


def test_the_interactive_executor_stops_an_instance_with_an_alarm(tmp_path):
    p, _ = _hanging(tmp_path, {})
    p.push(src=[4])
    started = time.monotonic()
    report = run(p, executor="interactive", timeout=1)
    assert time.monotonic() - started < 10
    assert report.segment("work").failures[0][1] == "InstanceTimeout: ran over its 1s timeout"


def test_the_dask_executor_refuses_a_timeout(tmp_path):
    p, ledger = _hanging(tmp_path, {"timeout": 5})
    with pytest.raises(UsageError, match="the dask executor cannot enforce"):
        run(p, executor="dask")
    assert not ledger.exists()


def _worker_pids(pids: Path) -> set[int]:
    return {int(f.name) for f in pids.iterdir()}


def test_kill_9_of_a_run_leaves_no_worker_and_a_rerun_runs_nothing_twice(tmp_path):
    prefix = tmp_path / "data"
    proc, ledger, pids = start_slow_run(tmp_path, prefix, count=60, jobs=2, seconds=0.2)
    # batches of 8 instances: kill in the middle of the first ones
    wait_until(lambda: len(os.listdir(ledger)) >= 5, 60, "the first instances")
    os.kill(proc.pid, signal.SIGKILL)  # the run only: its workers are left to themselves
    proc.wait()
    first = _worker_pids(pids)
    again = subprocess.run(proc.args, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    status, reused, ran = again.stdout.split()
    assert status == "done" and int(reused) + int(ran) == 60
    counts = executions(ledger)
    assert len(counts) == 60 and max(counts.values()) == 1, counts
    assert not [pid for pid in first if alive(pid)]
    with open_db(prefix) as db:  # the killed run no longer shows as running
        assert [r["status"] for r in db.runs()] == ["done", "interrupted"]


def test_ctrl_c_of_a_run_stops_its_workers_at_once(tmp_path):
    prefix = tmp_path / "data"
    # batches of 8 instances of 1 s: a run waiting for its batches would take 8 s
    proc, ledger, pids = start_slow_run(tmp_path, prefix, count=60, jobs=2, seconds=1)
    wait_until(lambda: len(os.listdir(ledger)) >= 2, 60, "the first instances")
    os.kill(proc.pid, signal.SIGINT)  # workers have process groups of their own
    started = time.monotonic()
    proc.communicate(timeout=30)
    assert time.monotonic() - started < 4
    assert not [pid for pid in _worker_pids(pids) if alive(pid)]
    with open_db(prefix) as db:
        assert db.runs(1)[0]["status"] == "interrupted"


def test_workers_hold_the_run_lock(tmp_path):
    # a worker that outlives its run (here: its run's pipe kept open by a stand-in
    # parent) keeps a second run out of the data until it ends
    from pipl.pipe.control import lock_is_free, run_lock
    from pipl.pipe.executors.local import Worker
    from pipl.runner import Runner

    prefix = tmp_path / "data"
    prefix.mkdir()
    with run_lock(prefix) as fd:
        worker = Worker(sys.executable, Runner(), keep_fds=(fd,))
    assert not lock_is_free(prefix)
    worker.close()
    assert lock_is_free(prefix)


def test_cancel_keeps_what_finished_and_stops_the_workers(tmp_path):
    prefix = tmp_path / "data"
    proc, ledger, pids = start_slow_run(tmp_path, prefix, count=60, jobs=2, seconds=0.2)
    wait_until(lambda: len(os.listdir(ledger)) >= 5, 60, "the first instances")
    asked = request_cancel(prefix)
    assert asked["status"] == "cancelling"
    row = wait_ended(prefix, int(asked["id"]), 30)
    out, err = proc.communicate(timeout=30)
    assert row["status"] == "cancelled" and out.split()[0] == "cancelled", err
    assert not [pid for pid in _worker_pids(pids) if alive(pid)]
    finished = len(os.listdir(ledger))
    assert 5 <= finished < 60
    with open_db(prefix) as db:
        done = db.conn.execute("SELECT COUNT(*) FROM instances WHERE ok=1").fetchone()[0]
    slow = row["ran"] - 60  # the 60 instances of n ran first
    assert row["ran"] == done and finished - 2 <= slow <= finished  # 2 were running
    # nothing to cancel any more; the next run computes the rest, nothing twice
    with pytest.raises(Exception, match="nothing to cancel"):
        request_cancel(prefix)
    again = subprocess.run(proc.args, capture_output=True, text=True, timeout=120, check=True)
    assert again.stdout.split()[0] == "done" and int(again.stdout.split()[1]) == slow
    assert max(executions(ledger).values()) == 1 and len(executions(ledger)) == 60


def test_a_stale_running_row_is_closed_by_cancel(tmp_path):
    prefix = tmp_path / "data"
    with open_db(prefix) as db:
        stale = db.start_run("local")  # a run whose process is gone (nothing holds the lock)
    assert request_cancel(prefix)["status"] == "cancelled"
    with open_db(prefix) as db:
        assert db.run_record(stale)["message"] == "its process had ended without recording it"


def test_a_queued_run_cancelled_before_it_starts_does_not_run(tmp_path):
    code, ledger, _ = slow_code(tmp_path)
    p = Pipeline("n -> slow;", code, tmp_path / "data")
    p.push(n=[1, 2])
    with open_db(p.prefix) as db:
        queued = db.start_run("local", status="queued")
    assert request_cancel(p.prefix)["status"] == "cancelled"
    report = run(p, run_id=queued)
    assert report.status == "cancelled" and not report.ok and not os.listdir(ledger)


def _packl(tmp: Path, code: Path) -> Path:
    """A pipeline packl folder running the slow pipeline's scripts."""
    folder = tmp / "slow-pipeline"
    (folder / "slow_pipeline").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "slow-pipeline"\nversion = "1.0"\n[tool.pipl]\nkind = "pipeline"\n'
    )
    (folder / "slow_pipeline" / "__init__.py").write_text(
        f'PIPELINE = "n -> slow;"\nPUSH = {{"n": {list(range(40))}}}\n'
    )
    (folder / "slow_pipeline" / "segments").symlink_to(code)
    return folder


def test_pipl_pipe_cancel_from_another_terminal(tmp_path):
    code, ledger, pids = slow_code(tmp_path, 0.3)
    folder = _packl(tmp_path, code)
    proc = subprocess.Popen(
        pipl_argv(["pipe", "run", "-P", str(folder), "-j", "1", "-q"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: len(os.listdir(ledger)) >= 2, 60, "the first instances")
    result = cli(["pipe", "cancel", "-P", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("run 1: cancelled (") and "finished instances are kept" in (
        result.output
    )
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 10
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: run 1 was cancelled: "), err
    assert not [pid for pid in _worker_pids(pids) if alive(pid)]
    status = cli(["pipe", "status", "-P", str(folder)]).output
    assert "last run 1 (local): cancelled" in status
    fails(cli(["pipe", "cancel", "-P", str(folder)]), 5, "nothing to cancel")


def test_pipl_pipe_run_timeout_option(tmp_path):
    code, _, _ = slow_code(tmp_path, 30)
    folder = _packl(tmp_path, code)
    (folder / "slow_pipeline" / "__init__.py").write_text(
        'PIPELINE = "n -> slow;"\nPUSH = {"n": [1]}\n'
    )
    result = cli(["pipe", "run", "-P", str(folder), "--timeout", "1", "-q"])
    fails(result, 10, "1 instance(s) failed", "InstanceTimeout: ran over its 1s timeout")
    # a segment listing InstanceTimeout gets another attempt: a line on stderr says so
    (folder / "slow_pipeline" / "__init__.py").write_text(
        'PIPELINE = "n -> slow;"\nPUSH = {"n": [1]}\n'
        'SEGMENTS = {"slow": {"retries": 1, "retry_on": ["InstanceTimeout"]}}\n'
    )
    result = cli(["pipe", "run", "-P", str(folder), "--timeout", "1", "--json"])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 10 and len(lines) == 2, result.stderr
    assert lines[0].startswith("slow/1_") and lines[0].endswith(
        "attempt 1 of 2 failed (InstanceTimeout: ran over its 1s timeout "
        "(its worker was killed)); trying again"
    )
    assert lines[1].startswith("Error: 1 instance(s) failed")
    assert '"retried": 1' in result.stdout
    refused = cli(["pipe", "run", "-P", str(folder), "--timeout", "0"])
    assert refused.exit_code == 2 and "Invalid value for '--timeout'" in refused.stderr


def test_pipl_pipe_cancel_options(tmp_path):
    code, _, _ = slow_code(tmp_path)
    folder = _packl(tmp_path, code)
    prefix = tmp_path / "elsewhere"
    proc, ledger, _ = start_slow_run(tmp_path / "run", prefix, count=60, jobs=1, seconds=0.3)
    base = ["pipe", "cancel", "-P", str(folder), "--prefix", str(prefix)]
    try:
        wait_until(lambda: len(os.listdir(ledger)) >= 1, 60, "the first instance")
        fails(cli([*base, "--run", "7"]), 5, "run 7 of pipeline data elsewhere", "nothing to")
        fails(cli([*base, "--run", "1", "--wait", "0"]), 10, "run 1 did not stop within 0s")
        again = cli([*base, "--no-wait"])
        assert again.exit_code == 0 and again.output.startswith("run 1: cancell"), again.output
        assert wait_ended(prefix, 1, 30)["status"] == "cancelled"
    finally:
        proc.kill()
        proc.wait()


def test_an_interactive_run_stops_after_the_instance_that_runs(tmp_path):
    prefix = tmp_path / "data"
    proc, ledger, _ = start_slow_run(
        tmp_path, prefix, count=60, seconds=0.2, executor="interactive"
    )
    wait_until(lambda: len(os.listdir(ledger)) >= 2, 60, "the first instances")
    row = wait_ended(prefix, int(request_cancel(prefix)["id"]), 30)
    out, err = proc.communicate(timeout=30)
    assert row["status"] == "cancelled" and out.split()[0] == "cancelled", err
    assert row["ran"] - 60 == len(os.listdir(ledger)) < 60  # each one that started, finished
