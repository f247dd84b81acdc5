"""Running one segment of a run: plan its instances, reuse those done, execute the rest.

Instances go to the executor in batches; each result batch is written to the database in
one transaction. An instance that failed for a reason the segment's ``retry_on`` lists
runs again, up to ``retries`` more times (``pipl.pipe.policy``). After a cancel, instances
of killed batches whose journal says they finished are recorded as done.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipl_pipe.segment.worker import LOG, Result, SegmentJob, Task

from pipl.pipe.db import TrackingDb, input_text
from pipl.pipe.executors import Executor
from pipl.pipe.multiplex import Element, Planned, plan
from pipl.pipe.plan import elements
from pipl.pipe.policy import Policy
from pipl.pipe.prepared import Prepared
from pipl.pipe.store import finished_on_disk, instance_dir, write_segment

Progress = Callable[[str, int, int], None]
Notice = Callable[[str], None]  # a line about the run as it goes (each retry)


@dataclass
class SegmentReport:
    """What one segment did in a run: its instances planned, reused, run and failed."""

    name: str
    key: str
    root: Path
    total: int = 0
    reused: int = 0
    ran: int = 0
    failed: int = 0
    retried: int = 0  # attempts made again after a failure listed in retry_on
    blocked: str = ""  # why the segment could not run at all
    instances: list[str] = field(default_factory=list)  # planned in this run
    skipped: bool = False  # not selected by --until/--only
    forced: bool = False  # recomputed though done (--force)
    failures: list[tuple[str, str, Path]] = field(default_factory=list)  # name, error, log


@dataclass
class How:
    """How a run executes, apart from what it runs."""

    executor: str | Executor
    jobs: int | None
    scheduler: str | None
    progress: Progress | None
    notice: Notice | None
    policies: dict[str, Policy]
    lock_fd: int
    stop: threading.Event = field(default_factory=threading.Event)


def _job(seg: Prepared, by_name: dict[str, Prepared], policy: Policy) -> SegmentJob:
    upstream: dict[str, str] = {}
    stack = list(seg.parents)
    while stack:
        name = stack.pop()
        if name not in upstream:
            upstream[name] = str(by_name[name].root)
            stack += by_name[name].parents
    return SegmentJob(
        name=seg.name,
        key=seg.key,
        root=str(seg.root),
        code=seg.code.source if not seg.code.entry else "",
        filename=seg.code.filename,
        entry=seg.code.entry,
        hooks=seg.code.hooks,
        params=seg.params,
        segment_roots=upstream,
        grouped=seg.code.multiplex.group_by is not None,
        timeout=policy.timeout,
    )


def run_segment(
    seg: Prepared,
    by_name: dict[str, Prepared],
    outputs: dict[str, list[Element]],
    incomplete: dict[str, bool],
    pushed: dict[str, list[Any]],
    db: TrackingDb,
    ex: Executor,
    run_id: int,
    how: How,
    forced: bool = False,
) -> SegmentReport:
    """Plan the segment's instances, reuse those done (none when ``forced``), run the
    rest and record them."""
    report = SegmentReport(seg.name, seg.key, seg.root, forced=forced)
    multiplex = seg.code.multiplex
    waiting = [p for p in seg.parents if incomplete[p]]
    incomplete[seg.name] = bool(waiting)
    outputs[seg.name] = []
    if waiting and (multiplex.mode == "union" or multiplex.group_by is not None):
        report.blocked = f"waits for failed instances of {', '.join(waiting)}"
        return report
    planned = plan(seg.name, seg.parents, outputs, multiplex, pushed.get(seg.name))
    report.total = len(planned)
    report.instances = [p.name for p in planned]
    parent_keys = {p: by_name[p].key for p in seg.parents}
    write_segment(
        seg.root,
        seg.code,
        seg.key,
        seg.params,
        parent_keys,
        seg.python if seg.python != sys.executable else "",
        seg.inputs,
    )
    db.add_segment(seg.key, seg.name, seg.root, parent_keys, seg.inputs)
    done = {} if forced else db.done(seg.key)
    todo: list[Planned] = []
    recovered: list[Result] = []
    on_disk = finished_on_disk(seg.root) if not forced and len(done) < len(planned) else {}
    for item in planned:
        if item.name in done:
            continue
        record = on_disk.get(item.name)
        if record is not None:
            done[item.name] = record["output"]
            recovered.append(
                Result(item.name, True, record["output"], record["started"], record["seconds"])
            )
        else:
            todo.append(item)
    if recovered:
        db.record(
            seg.key,
            recovered,
            run_id,
            {r.name: input_text(on_disk[r.name].get("input")) for r in recovered},
            {r.name: dict(on_disk[r.name].get("parents") or {}) for r in recovered},
            parent_keys,
        )
    report.reused = len(planned) - len(todo)
    db.progress(run_id, reused=report.reused)
    if how.progress:
        how.progress(seg.name, report.reused, report.total)
    if todo:
        job = _job(seg, by_name, how.policies[seg.name])
        _execute(seg, job, todo, done, report, db, ex, run_id, how, parent_keys)
    outputs[seg.name] = elements(seg.root, planned, done)
    if report.failed:
        incomplete[seg.name] = True
    return report


@dataclass
class _Batch:
    """What recording one segment's ended instances needs beside them."""

    inputs: dict[str, str]  # instance -> its input, as text
    used: dict[str, dict[str, list[str]]]  # instance -> parent segment -> instance folders
    parent_keys: dict[str, str]


def _execute(
    seg: Prepared,
    job: SegmentJob,
    todo: list[Planned],
    done: dict[str, list[Any]],
    report: SegmentReport,
    db: TrackingDb,
    ex: Executor,
    run_id: int,
    how: How,
    parent_keys: dict[str, str],
) -> None:
    """Run the instances ``todo`` and record them; those failing for a reason listed in
    the segment's ``retry_on`` run again, up to ``retries`` more times."""
    policy = how.policies[seg.name]
    tasks = [Task(p.name, p.input, p.parents, p.group) for p in todo]
    batch = _Batch(
        {t.name: input_text(t.input) for t in tasks},
        {t.name: t.parent_dirs for t in tasks},
        parent_keys,
    )
    by_name = {t.name: t for t in tasks}
    finished = report.reused
    while tasks:
        again: list[Task] = []
        for results in ex.run(job, tasks, seg.python, how.stop):
            final = []
            for r in results:
                if not r.ok and job.attempt <= policy.retries and policy.transient(r):
                    again.append(by_name[r.name])
                    report.retried += 1
                    if how.notice:
                        how.notice(
                            f"{seg.name}/{r.name}: attempt {job.attempt} of "
                            f"{policy.retries + 1} failed ({r.error}); trying again"
                        )
                else:
                    final.append(r)
            _record(seg, final, done, report, db, run_id, batch, job.attempt)
            finished += len(final)
            if how.progress:
                how.progress(seg.name, finished, report.total)
        if how.stop.is_set():
            _recover_stopped(seg, tasks, done, report, db, run_id, batch, job.attempt)
            return
        tasks = again
        job = replace(job, attempt=job.attempt + 1)


def _record(
    seg: Prepared,
    results: list[Result],
    done: dict[str, list[Any]],
    report: SegmentReport,
    db: TrackingDb,
    run_id: int,
    batch: _Batch,
    attempt: int,
) -> None:
    """Record ended instances in the database and the segment's report."""
    db.record(
        seg.key, results, run_id, batch.inputs, batch.used, batch.parent_keys, attempts=attempt
    )
    ok = sum(1 for r in results if r.ok)
    db.progress(run_id, ran=ok, failed=len(results) - ok)
    for r in results:
        if r.ok:
            done[r.name] = r.output
            report.ran += 1
        else:
            report.failed += 1
            if len(report.failures) < 20:
                log = instance_dir(seg.root, r.name) / LOG
                report.failures.append((r.name, r.error, log))


def _recover_stopped(
    seg: Prepared,
    tasks: list[Task],
    done: dict[str, list[Any]],
    report: SegmentReport,
    db: TrackingDb,
    run_id: int,
    batch: _Batch,
    attempt: int,
) -> None:
    """After a stop: the instances of killed batches that had finished (their journal
    says so, their results never came back) are recorded as done."""
    on_disk = finished_on_disk(seg.root)
    late = [
        Result(t.name, True, rec["output"], rec["started"], rec["seconds"])
        for t in tasks
        if t.name not in done and (rec := on_disk.get(t.name)) is not None
    ]
    if late:
        _record(seg, late, done, report, db, run_id, batch, attempt)
