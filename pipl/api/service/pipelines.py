"""Operations on the project's pipelines: the data CI keeps in ``.pipl/pipe-data/<name>``,
and the workspace pipelines tracked with ``pipl pipe track`` (``pipl.pipe.track``).

Every name from a request is checked before it reaches a path or a query; data files are
served only from inside their instance's folder. Pipelines derive from the project's
packls, so whoever may read the project's first stage index may look at them, tracked
ones included; cancelling, tagging and deleting are the owner's, and so is running a CI
pipeline again (a tracked pipeline runs in its workspace, never from the server).
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

from pipl.api.models import build, to_json
from pipl.api.ops import operation
from pipl.api.pipelines import (
    Comparison,
    Graph,
    Instance,
    PipelineSummary,
    Run,
    Segment,
    SegmentCode,
    SegmentKey,
    Status,
)
from pipl.api.service import Context
from pipl.errors import NotFound, PipelineError, UsageError
from pipl.names import check_simple, normalize_dist
from pipl.pipe import browse
from pipl.pipe.db import TrackingDb
from pipl.pipe.recipe import load_recipe


def data_root(ctx: Context) -> Path:
    """Where the project keeps its pipelines' data (as CI's ``process`` handler does)."""
    from pipl.pipe.store import pipe_data

    return pipe_data(ctx.project)


def tracked(ctx: Context) -> dict[str, Path]:
    """The tracked workspace pipelines whose data is there, by name."""
    from pipl.pipe.track import read_tracked

    found = read_tracked(ctx.project.state_dir)
    return {n: t.prefix for n, t in found.items() if browse.has_data(t.prefix)}


def prefix_of(ctx: Context, pipeline: str) -> Path:
    """The data folder of ``pipeline`` (CI's, else a tracked one), after checking the
    caller may read it."""
    check_simple(pipeline, "pipeline")
    ctx.require_read(ctx.project.stage_index())
    prefix = data_root(ctx) / normalize_dist(pipeline)
    if not browse.has_data(prefix):
        prefix = tracked(ctx).get(normalize_dist(pipeline), prefix)
    if not browse.has_data(prefix):
        raise NotFound(
            f"project {ctx.project.name!r} has no pipeline {pipeline!r} with data: "
            "see the list of pipelines",
        )
    return prefix


def _segments(prefix: Path, db: TrackingDb) -> list[Segment]:
    from pipl.pipe.manage import segment_states

    entries = browse.current_segments(prefix, db)
    states = segment_states(db, [(e.name, e.key, e.root) for e in entries])
    return [
        Segment(e.name, e.key, list(e.parents), {"done": s.done, "failed": s.failed})
        for e, s in zip(entries, states, strict=True)
    ]


def _runs(db: TrackingDb, limit: int) -> list[Run]:
    found = (db.run_record(int(row["id"])) for row in db.runs(limit))
    return [_run(row) for row in found if row is not None]


def _run(row: dict[str, Any]) -> Run:
    return Run(
        id=int(row["id"]),
        status=str(row["status"] or ""),
        started=row["started"],
        finished=row["finished"],
        executor=str(row["executor"] or ""),
        ran=int(row["ran"] or 0),
        reused=int(row["reused"] or 0),
        failed=int(row["failed"] or 0),
        message=str(row["message"] or ""),
        revision=str(row.get("revision") or ""),
    )


def instance_of(row: browse.InstanceRow) -> Instance:
    return Instance(**row.__dict__)


@operation("pipelines.list", "GET", "/pipelines", summary="the project's pipelines")
def list_pipelines(ctx: Context) -> list[PipelineSummary]:
    """The project's pipelines: those CI processed and those tracked from a workspace."""
    ctx.require_read(ctx.project.stage_index())
    found = []
    listed = [(p.name, p, "ci") for p in browse.pipeline_prefixes(data_root(ctx))]
    ci = {name for name, _, _ in listed}
    listed += [(n, p, "workspace") for n, p in sorted(tracked(ctx).items()) if n not in ci]
    for name, prefix, source in listed:
        with browse.open_tracking(prefix) as db:
            segments = _segments(prefix, db)
            runs = _runs(db, 1)
        counts = {s: sum(seg.counts.get(s, 0) for seg in segments) for s in browse.STATUSES}
        last = runs[0] if runs else None
        found.append(PipelineSummary(name, len(segments), counts, last, source))
    return found


def graph_of(
    ctx: Context,
    pipeline: str,
    svg: bool = False,
    link: str = "",
    segments: list[Segment] | None = None,
) -> Graph:
    """The graph of ``pipeline`` (with ``segments`` when the caller has them already);
    drawn (``svg``) with each segment's counts, its segments linking to ``link`` + the
    segment's name when ``link`` is given."""
    from pipl.pipe.graph import Dag, to_dot
    from pipl.pipe.parse import parse

    prefix = prefix_of(ctx, pipeline)
    if segments is None:
        with browse.open_tracking(prefix) as db:
            segments = _segments(prefix, db)
    recipe = load_recipe(prefix)
    if recipe is not None:
        dag = parse(recipe.dot)
    else:
        dag = Dag()
        for number, seg in enumerate(segments):
            dag.add(seg.name, number)
        dag.edges = [(p, s.name) for s in segments for p in s.parents if p in dag.lines]
    attrs = {}
    for seg in segments:
        done, failed = seg.counts.get("done", 0), seg.counts.get("failed", 0)
        attrs[seg.name] = {
            "label": f"{seg.name}\n{done} done · {failed} failed",
            "fillcolor": "#fde8e7" if failed else ("#e6f4ea" if done else "white"),
            "tooltip": f"{seg.name} (key {seg.key})",
        }
        if link:
            attrs[seg.name]["URL"] = f"{link}{seg.name}"
    dot = to_dot(dag, "pipeline", attrs)
    edges = [[p, c] for p, c in dag.edges]
    return Graph(pipeline, segments, edges, dot, _svg(dot) if svg else None)


_DRAWN_KEPT = 64  # pictures kept, one per distinct graph and counts


class _Drawn:
    """Pictures already drawn, by dot text. Only pictures are kept: a graph that could
    not be drawn (no graphviz yet) is tried again at the next request, so installing
    graphviz shows the picture without restarting the dashboard."""

    def __init__(self) -> None:
        self.svgs: dict[str, str] = {}
        self.lock = threading.Lock()

    def get(self, dot: str) -> str | None:
        with self.lock:
            return self.svgs.get(dot)

    def keep(self, dot: str, svg: str) -> None:
        with self.lock:
            if len(self.svgs) >= _DRAWN_KEPT:
                self.svgs.pop(next(iter(self.svgs)))  # the oldest
            self.svgs[dot] = svg


_drawn = _Drawn()


def _svg(dot: str) -> str | None:
    """The picture of ``dot`` (graphviz runs once per distinct graph and counts), or None
    when graphviz's ``dot`` is not installed (looked for again at each call)."""
    from pipl.pipe.manage import draw

    svg = _drawn.get(dot)
    if svg is not None:
        return svg
    try:
        text = draw(dot, "svg").decode()
        svg = text[text.index("<svg") :]
    except (PipelineError, ValueError):
        return None  # no graphviz: pages list the segments instead
    _drawn.keep(dot, svg)
    return svg


@operation("pipelines.graph", "GET", "/pipelines/{pipeline}", summary="a pipeline's graph")
def graph(ctx: Context, pipeline: str, svg: bool = False) -> Graph:
    """The pipeline's segments and their edges (with ``svg``: drawn by graphviz when it is
    installed)."""
    return graph_of(ctx, pipeline, svg)


@operation("pipelines.status", "GET", "/pipelines/{pipeline}/status", summary="a pipeline's status")
def status(ctx: Context, pipeline: str, runs: int = 5) -> Status:
    """The pipeline's instance counts by segment and state, and its last ``runs`` runs."""
    prefix = prefix_of(ctx, pipeline)
    source = "ci" if prefix.is_relative_to(data_root(ctx)) else "workspace"
    with browse.open_tracking(prefix) as db:
        found = _runs(db, max(1, min(runs, 100)))
        return Status(pipeline, _segments(prefix, db), found, source)


@operation("pipelines.run", "POST", "/pipelines/{pipeline}/run", "owner", "running a pipeline")
def run(ctx: Context, pipeline: str) -> Run:
    """Start the pipeline again (only what is not computed yet is computed); returns at once
    with the queued run: ``status(pipeline).runs`` follows it."""
    from pipl.pipe.background import start_run

    prefix = prefix_of(ctx, pipeline)
    if not prefix.is_relative_to(data_root(ctx)):
        raise UsageError(
            f"pipeline {pipeline!r} was run in a workspace: run it there again "
            "('pipl pipe run'); the dashboard runs CI's pipelines only"
        )
    with browse.open_tracking(prefix) as db:
        run_id = start_run(db, prefix)
        row = db.run_record(run_id)
    assert row is not None  # just recorded
    return _run(row)


@operation("pipelines.cancel", "POST", "/pipelines/{pipeline}/cancel", "owner", "cancelling a run")
def cancel(ctx: Context, pipeline: str, run: int | None = None) -> Run:
    """Ask the pipeline's running run (or ``run``) to stop; returns at once with it: a queued
    run is ``cancelled`` already, a running one ``cancelling`` until its workers are stopped
    (``status(pipeline).runs`` follows it). What finished stays."""
    from pipl.pipe.control import request_cancel

    return _run(request_cancel(prefix_of(ctx, pipeline), run))


@operation("pipelines.code", "GET", "/pipelines/{pipeline}/code/{segment}", summary="segment code")
def code(ctx: Context, pipeline: str, segment: str, key: str | None = None) -> SegmentCode:
    """What entered the segment's key (its current one, or ``key``)."""
    from pipl.pipe.codeview import segment_code

    prefix = prefix_of(ctx, pipeline)
    with browse.open_tracking(prefix) as db:
        entry = browse.find_segment(prefix, db, segment, key or None)
        return build(SegmentCode, to_json(segment_code(prefix, db, entry)))


def _keys(prefix: Path, db: TrackingDb, segment: str) -> list[SegmentKey]:
    current = browse.find_segment(prefix, db, segment).key
    rows = db.conn.execute(
        "SELECT key, created FROM segments WHERE name=? ORDER BY created DESC",
        (browse.check_segment(segment),),
    ).fetchall()
    keys = [SegmentKey(k, c, db.counts(k), k == current) for k, c in rows]
    if not any(k.current for k in keys):
        keys.insert(0, SegmentKey(current, None, db.counts(current), True))
    return keys


@operation("pipelines.keys", "GET", "/pipelines/{pipeline}/keys/{segment}", summary="segment keys")
def keys(ctx: Context, pipeline: str, segment: str) -> list[SegmentKey]:
    """The keys the segment has had, newest first, with their instance counts."""
    prefix = prefix_of(ctx, pipeline)
    with browse.open_tracking(prefix) as db:
        return _keys(prefix, db, segment)


@operation(
    "pipelines.compare", "GET", "/pipelines/{pipeline}/compare/{segment}", summary="two keys"
)
def compare(
    ctx: Context,
    pipeline: str,
    segment: str,
    a: str | None = None,
    b: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Comparison:
    """Keys ``a`` and ``b`` of the segment side by side (default: the key before the current
    one, and the current one)."""
    from pipl.pipe import codeview

    if offset < 0 or not 1 <= limit <= 500:
        raise UsageError("offset must be 0 or more and limit from 1 to 500")
    prefix = prefix_of(ctx, pipeline)
    with browse.open_tracking(prefix) as db:
        known = _keys(prefix, db, segment)
        current = next(k.key for k in known if k.current)
        b = b or current
        if not a:
            older = [k.key for k in known if k.key != b]
            if not older:
                raise NotFound(
                    f"segment {segment} has had one key only ({b}): nothing to compare it with"
                )
            a = older[0]
        side_a = browse.find_segment(prefix, db, segment, a)
        side_b = browse.find_segment(prefix, db, segment, b)
        view_a = codeview.segment_code(prefix, db, side_a)
        view_b = codeview.segment_code(prefix, db, side_b)
        total, pairs = codeview.paired_instances(prefix, db, side_a, side_b, offset, limit)
        found = codeview.Comparison(
            segment,
            view_a,
            view_b,
            db.counts(side_a.key),
            db.counts(side_b.key),
            codeview.differences(view_a, view_b),
            pairs,
            total,
        )
    answer = build(Comparison, to_json(found))
    return dataclasses.replace(answer, offset=offset, limit=limit)
