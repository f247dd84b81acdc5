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

import time
from dataclasses import dataclass

from pipl.errors import UsageError
from pipl.pipe.control import CancelWatch, run_lock
from pipl.pipe.db import open_db
from pipl.pipe.execute import How, Notice, Progress, SegmentReport, run_segment
from pipl.pipe.executors import Executor, make_executor
from pipl.pipe.multiplex import Element
from pipl.pipe.pipeline import Pipeline
from pipl.pipe.plan import Selection, check_parents_done, plan_segments, select
from pipl.pipe.policy import Policy, segment_policy
from pipl.pipe.prepared import Prepared, prepare
from pipl.pipe.recipe import save_recipe
from pipl.pipe.revision import code_revision

# ``Prepared``, ``prepare`` and ``SegmentReport`` live in ``prepared`` and ``execute``;
# they are still importable from here
__all__ = ["Prepared", "RunReport", "SegmentReport", "prepare", "run"]


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
        how = How(executor, jobs, scheduler, progress, notice, policies, lock_fd)
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
    how: How,
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
                    report = run_segment(
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


def _cpu_count() -> int:
    import os

    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
