"""Running a pipeline: keys, instances to run, execution, records.

Segments run parents first. For each, the instances are planned from the parents'
outputs (``multiplex``); those already done under the segment's key are reused (the
database says so in one query; an instance in the journal but unknown to the database,
after a killed run, is taken from there); the rest go to the executor in batches,
and each result batch is written to the database in one transaction.

A failing instance keeps its traceback in its log and gives no output: instances of
children that would have used it do not run (a ``group_by`` or ``union`` child waits for
all of its parents' instances), every other result stays. A segment may give failing
instances more attempts and its instances a timeout (``pipl.pipe.policy``).

The run holds the run lock, and so do its workers (``pipl.pipe.control``); it can be
cancelled from outside (``request_cancel``): its workers are stopped, what finished
stays, and the run ends ``cancelled``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipl_pipe.segment.worker import LOG, Result, SegmentJob, Task

from pipl.errors import PipelineError, UsageError
from pipl.pipe.code import SegmentCode, code_in_environment, find_code
from pipl.pipe.control import CancelWatch, run_lock
from pipl.pipe.db import TrackingDb, input_text, open_db
from pipl.pipe.executors import Executor, make_executor
from pipl.pipe.graph import topological
from pipl.pipe.keys import key_inputs, segment_key
from pipl.pipe.multiplex import Element, Planned, plan
from pipl.pipe.parse import parse
from pipl.pipe.pipeline import Pipeline
from pipl.pipe.plan import Selection, check_parents_done, elements, plan_segments, select
from pipl.pipe.policy import Policy, segment_policy
from pipl.pipe.recipe import save_recipe
from pipl.pipe.revision import code_revision
from pipl.pipe.store import (
    finished_on_disk,
    instance_dir,
    segment_root,
    write_segment,
)

Progress = Callable[[str, int, int], None]
Notice = Callable[[str], None]  # a line about the run as it goes (each retry)


@dataclass
class Prepared:
    """A segment ready to run: its code, key, folder and environment."""

    name: str
    code: SegmentCode
    key: str
    root: Path
    parents: list[str]
    params: dict[str, Any]
    python: str
    env_lock: str
    inputs: dict[str, str] = field(default_factory=dict)  # digests of the key's inputs


@dataclass
class SegmentReport:
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
class RunReport:
    run_id: int
    executor: str
    seconds: float
    segments: list[SegmentReport]
    status: str = "done"  # done, failed or cancelled

    @property
    def ok(self) -> bool:
        return self.status != "cancelled" and all(
            not s.failed and not s.blocked for s in self.segments
        )

    def segment(self, name: str) -> SegmentReport:
        return next(s for s in self.segments if s.name == name)


def prepare(pipeline: Pipeline, *, make_envs: bool = True) -> list[Prepared]:
    """Parse the DAG, find each segment's code and compute the keys, parents first.
    ``make_envs=False`` (a dry run) makes no segment environment: a segment whose code is
    in an environment not made yet is then an error."""
    from pipl.pipe.envs import segment_environment
    from pipl.pipe.sources import SourceScan

    dag = parse(pipeline.dot)
    sources = SourceScan(pipeline)
    prepared: dict[str, Prepared] = {}
    for name in topological(dag):
        spec = dict(pipeline.segments.get(name, {}))
        python, env_lock = segment_environment(pipeline, name, spec, make=make_envs)
        elsewhere = python if python != sys.executable else None
        if (
            elsewhere
            and not Path(elsewhere).exists()
            and code_in_environment(name, pipeline.code_dir, spec)
        ):
            raise PipelineError(
                f"segment {name}: its code is in its own environment, not made yet, and a "
                f"dry run makes none: make it with a run (pipl pipe run --until {name})"
            )
        code = find_code(name, pipeline.code_dir, spec, dag.lines[name], elsewhere)
        code = replace(code, sources=sources.of(name, spec, code, python))
        parents = dag.parents(name)
        if parents and "inputs" in spec:
            raise PipelineError(
                f"pipeline line {dag.lines[name]}: segment {name} takes packls as inputs "
                f"but has parents ({', '.join(parents)}): only an orphan segment can"
            )
        params = dict(spec.get("params", {}))
        parent_keys = {p: prepared[p].key for p in parents}
        key = segment_key(code, params, parent_keys, env_lock)
        parent_root = prepared[parents[0]].root if parents else None
        root = segment_root(pipeline.prefix, parent_root, name, key)
        prepared[name] = Prepared(
            name,
            code,
            key,
            root,
            parents,
            params,
            python,
            env_lock,
            key_inputs(code, params, parent_keys, env_lock),
        )
    return list(prepared.values())


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


def run(
    pipeline: Pipeline,
    *,
    executor: str | Executor = "local",
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    run_id: int | None = None,
    until: str | None = None,
    only: str | list[str] | None = None,
    force: str | list[str] | None = None,
    timeout: float | None = None,
    notice: Notice | None = None,
) -> RunReport:
    """Run what is not computed yet; returns what ran, was reused or failed. ``run_id``:
    the run recorded as queued by ``start_run(..., status="queued")`` (else a new one).

    ``until``: run that segment and what it needs, nothing after; ``only``: run those
    segments (names, or "a,b"), whose other parents must be done; ``force``: recompute
    those segments and their descendants though done. ``timeout``: seconds per instance
    for segments that give none; ``notice`` hears of each retry. A cancelled run returns
    with ``status`` "cancelled"."""
    segments = prepare(pipeline)
    selection = select(
        [s.name for s in segments],
        {s.name: s.parents for s in segments},
        until=until,
        only=only,
        force=force,
    )
    policies = {
        s.name: segment_policy(s.name, dict(pipeline.segments.get(s.name, {})), timeout)
        for s in segments
    }
    _check_timeouts(policies, executor)
    pipeline.prefix.mkdir(parents=True, exist_ok=True)
    with run_lock(pipeline.prefix, timeout=1) as lock_fd:
        read: dict[str, list[Element]] = {}
        if selection.reads:
            read = _read_parents(pipeline, segments, selection)
        save_recipe(pipeline, [(s.name, s.key, s.parents, s.root) for s in segments])
        how = _How(executor, jobs, scheduler, progress, notice, policies, lock_fd)
        return _run_locked(pipeline, segments, how, run_id, selection, read)


def _check_timeouts(policies: dict[str, Policy], executor: str | Executor) -> None:
    """Refuse, before anything runs, timeouts the executor cannot enforce."""
    timed = [name for name, p in policies.items() if p.timeout]
    named = executor if isinstance(executor, str) else executor.name
    supports = named != "dask" if isinstance(executor, str) else executor.supports_timeout
    if timed and not supports:
        raise UsageError(
            f"segment {timed[0]} has a timeout, which the {named} executor cannot enforce: "
            "use the local executor, or run without --timeout"
        )


@dataclass
class _How:
    """How a run executes, apart from what it runs."""

    executor: str | Executor
    jobs: int | None
    scheduler: str | None
    progress: Progress | None
    notice: Notice | None
    policies: dict[str, Policy]
    lock_fd: int
    stop: threading.Event = field(default_factory=threading.Event)


def _read_parents(
    pipeline: Pipeline, segments: list[Prepared], selection: Selection
) -> dict[str, list[Element]]:
    """The outputs of the segments an --only run reads, which must all be done."""
    with open_db(pipeline.prefix) as db:
        plans, outputs = plan_segments(segments, pipeline.all_pushed(), db, selection)
    check_parents_done(plans, selection, {s.name: s.parents for s in segments})
    return {name: outputs[name] for name in selection.reads}


def _run_locked(
    pipeline: Pipeline,
    segments: list[Prepared],
    how: _How,
    queued: int | None,
    selection: Selection | None = None,
    read: dict[str, list[Element]] | None = None,
) -> RunReport:
    started = time.perf_counter()
    workers = how.jobs or _cpu_count()
    by_name = {s.name: s for s in segments}
    pushed = pipeline.all_pushed()
    reports: list[SegmentReport] = []
    chosen = selection or Selection(frozenset(by_name))
    name = how.executor if isinstance(how.executor, str) else how.executor.name
    with open_db(pipeline.prefix) as db:
        db.close_stale_runs()
        if queued is None:
            run_id = db.start_run(name)
        else:
            run_id = queued
            if not db.claim_run(run_id, name):  # cancelled while it was queued
                return RunReport(run_id, name, time.perf_counter() - started, [], "cancelled")
        db.set_revision(run_id, code_revision(pipeline.code_dir or pipeline.root))
        status = "error"
        ex: Executor | None = None
        try:
            ex = (
                make_executor(how.executor, workers, how.scheduler, keep_fds=(how.lock_fd,))
                if isinstance(how.executor, str)
                else how.executor
            )
            outputs: dict[str, list[Element]] = dict(read or {})
            incomplete: dict[str, bool] = {}
            with CancelWatch(pipeline.prefix, run_id, how.stop):
                for seg in segments:
                    if seg.name not in chosen.runs:
                        reports.append(SegmentReport(seg.name, seg.key, seg.root, skipped=True))
                        outputs.setdefault(seg.name, [])
                        incomplete[seg.name] = False
                        continue
                    report = _run_segment(
                        seg,
                        by_name,
                        outputs,
                        incomplete,
                        pushed,
                        db,
                        ex,
                        run_id,
                        how,
                        seg.name in chosen.forced,
                    )
                    reports.append(report)
                    if how.stop.is_set():
                        break
            status = "done" if all(not r.failed and not r.blocked for r in reports) else "failed"
            if how.stop.is_set():
                status = "cancelled"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            db.finish_run(
                run_id,
                status,
                sum(r.ran for r in reports),
                sum(r.reused for r in reports),
                sum(r.failed for r in reports),
                "stopped by a cancel request" if status == "cancelled" else "",
            )
            if ex is not None and status in ("cancelled", "interrupted", "error"):
                ex.abort()
            if ex is not None and isinstance(how.executor, str):
                ex.close()
    return RunReport(run_id, name, time.perf_counter() - started, reports, status)


def _run_segment(
    seg: Prepared,
    by_name: dict[str, Prepared],
    outputs: dict[str, list[Element]],
    incomplete: dict[str, bool],
    pushed: dict[str, list[Any]],
    db: TrackingDb,
    ex: Executor,
    run_id: int,
    how: _How,
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
    how: _How,
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


def _cpu_count() -> int:
    import os

    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
