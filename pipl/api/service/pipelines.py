"""Operations on the project's pipelines: the data CI keeps in ``.pipl/pipe-data/<name>``.

Every name from a request is checked before it reaches a path or a query; data files are
served only from inside their instance's folder. Pipelines derive from the project's
packls, so whoever may read the project's first stage index may look at them; running,
cancelling, tagging and deleting are the owner's.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipl.api.pipelines import (
    DataFile,
    FileContent,
    Graph,
    Instance,
    InstanceDetail,
    InstancePage,
    PipelineSummary,
    Run,
    Segment,
    Status,
)
from pipl.api.service import Context, operation
from pipl.errors import NotFound, PipelineError, UsageError
from pipl.names import check_simple, normalize_dist
from pipl.pipe import browse
from pipl.pipe.db import TrackingDb
from pipl.pipe.recipe import SegmentEntry, load_recipe

MAX_DOWNLOAD = 64 * 1024 * 1024  # larger files: the dashboard's download link


def data_root(ctx: Context) -> Path:
    """Where the project keeps its pipelines' data (as CI's ``process`` handler does)."""
    from pipl.ci.builtin.pipeline import pipe_data

    return pipe_data(ctx.project, "x").parent


def prefix_of(ctx: Context, pipeline: str) -> Path:
    """The data folder of ``pipeline``, after checking the caller may read it."""
    check_simple(pipeline, "pipeline")
    ctx.require_read(ctx.project.stage_index())
    prefix = data_root(ctx) / normalize_dist(pipeline)
    if not browse.has_data(prefix):
        raise NotFound(
            f"project {ctx.project.name!r} has no pipeline {pipeline!r} with data: "
            "see the list of pipelines",
            status=404,
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
    )


def _instance(row: browse.InstanceRow) -> Instance:
    return Instance(**row.__dict__)


@operation("pipelines.list")
def list_pipelines(ctx: Context) -> list[PipelineSummary]:
    ctx.require_read(ctx.project.stage_index())
    found = []
    for prefix in browse.pipeline_prefixes(data_root(ctx)):
        with browse.open_tracking(prefix) as db:
            segments = _segments(prefix, db)
            runs = _runs(db, 1)
        counts = {s: sum(seg.counts.get(s, 0) for seg in segments) for s in browse.STATUSES}
        found.append(PipelineSummary(prefix.name, len(segments), counts, runs[0] if runs else None))
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


@functools.lru_cache(maxsize=64)
def _svg(dot: str) -> str | None:
    """The picture of ``dot`` (graphviz runs once per distinct graph and counts)."""
    from pipl.pipe.manage import draw

    try:
        text = draw(dot, "svg").decode()
        return text[text.index("<svg") :]
    except (PipelineError, ValueError):
        return None  # no graphviz: pages list the segments instead


@operation("pipelines.graph")
def graph(ctx: Context, pipeline: str, svg: bool = False) -> Graph:
    return graph_of(ctx, pipeline, svg)


@operation("pipelines.status")
def status(ctx: Context, pipeline: str, runs: int = 5) -> Status:
    prefix = prefix_of(ctx, pipeline)
    with browse.open_tracking(prefix) as db:
        return Status(pipeline, _segments(prefix, db), _runs(db, max(1, min(runs, 100))))


@operation("pipelines.run")
def run(ctx: Context, pipeline: str) -> Run:
    from pipl.pipe.background import start_run

    prefix = prefix_of(ctx, pipeline)
    with browse.open_tracking(prefix) as db:
        run_id = start_run(db, prefix)
        row = db.run_record(run_id)
    assert row is not None  # just recorded
    return _run(row)


@operation("pipelines.cancel")
def cancel(ctx: Context, pipeline: str, run: int | None = None) -> Run:
    from pipl.pipe.control import request_cancel

    return _run(request_cancel(prefix_of(ctx, pipeline), run))


@operation("pipelines.instances")
def instances(
    ctx: Context,
    pipeline: str,
    segment: str | None = None,
    status: str | None = None,
    tag: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> InstancePage:
    prefix = prefix_of(ctx, pipeline)
    with browse.open_tracking(prefix) as db:
        chosen = browse.current_segments(prefix, db)
        if segment:
            chosen = [browse.find_segment(prefix, db, segment)]
        total, rows = browse.list_instances(
            db, chosen, status=status or None, tag=tag or None, offset=offset, limit=limit
        )
    return InstancePage(total, offset, limit, [_instance(r) for r in rows])


@dataclass
class _Located:
    prefix: Path
    entry: SegmentEntry
    row: browse.InstanceRow
    db: TrackingDb

    @property
    def folder(self) -> Path:
        return browse.instance_folder(self.prefix, self.entry, self.row.name)


@contextmanager
def _located(
    ctx: Context, pipeline: str, segment: str, instance: str, key: str | None
) -> Iterator[_Located]:
    """Instance ``instance`` of ``segment`` (under its current key, or ``key``), with the
    pipeline's tracking database open."""
    prefix = prefix_of(ctx, pipeline)
    with browse.open_tracking(prefix) as db:
        entry = browse.find_segment(prefix, db, segment, key or None)
        yield _Located(prefix, entry, browse.get_instance(db, entry, instance), db)


@operation("pipelines.instance")
def instance(
    ctx: Context, pipeline: str, segment: str, instance: str, key: str | None = None
) -> InstanceDetail:
    with _located(ctx, pipeline, segment, instance, key) as found:
        segment_root = browse.segment_folder(found.prefix, found.entry)
        folder, row = found.folder, found.row
    try:
        params = dict(json.loads((segment_root / "params.json").read_text()))
    except (OSError, ValueError, TypeError):
        params = {}
    log, cut = browse.read_log(folder)
    return InstanceDetail(
        _instance(row),
        {str(k): json.dumps(v, default=repr) for k, v in params.items()},
        browse.saved_params(folder),
        log,
        cut,
        [DataFile(f.name, f.size) for f in browse.data_files(folder)],
    )


def file_path(
    ctx: Context, pipeline: str, segment: str, instance: str, path: str, key: str | None = None
) -> Path:
    """The data file ``path`` of an instance, checked to be inside its folder."""
    with _located(ctx, pipeline, segment, instance, key) as found:
        return browse.data_file(found.folder, path)


@operation("pipelines.file")
def data_file(
    ctx: Context, pipeline: str, segment: str, instance: str, path: str, key: str | None = None
) -> FileContent:
    found = file_path(ctx, pipeline, segment, instance, path, key)
    size = found.stat().st_size
    if size > MAX_DOWNLOAD:
        raise UsageError(
            f"{path} has {size} bytes, more than the API sends: download it from the "
            "instance's page of the dashboard"
        )
    return FileContent(path, size, base64.b64encode(found.read_bytes()).decode())


@operation("pipelines.tag")
def tag(
    ctx: Context, pipeline: str, segment: str, instance: str, tag: str, key: str | None = None
) -> list[str]:
    browse.check_tag(tag)
    with _located(ctx, pipeline, segment, instance, key) as found:
        found.db.tag(found.entry.key, found.row.name, tag)
        return found.db.tags(found.entry.key, [found.row.name]).get(found.row.name, [])


@operation("pipelines.untag")
def untag(
    ctx: Context, pipeline: str, segment: str, instance: str, tag: str, key: str | None = None
) -> list[str]:
    browse.check_tag(tag)
    with _located(ctx, pipeline, segment, instance, key) as found:
        found.db.untag(found.entry.key, found.row.name, tag)
        return found.db.tags(found.entry.key, [found.row.name]).get(found.row.name, [])


@operation("pipelines.delete")
def delete(
    ctx: Context, pipeline: str, segment: str, instance: str, key: str | None = None
) -> Instance:
    with _located(ctx, pipeline, segment, instance, key) as found:
        browse.delete_instance(found.prefix, found.db, found.entry, found.row.name)
        return _instance(found.row)
