"""Operations on a pipeline's instances: listing them, one instance with its data files,
tags, and deleting data (one instance, those downstream of it, or a selection).

Instances are named by their segment and instance names under the segment's current key
(the key of its last run) unless ``key`` says otherwise; several at once as
``"SEGMENT/INSTANCE"`` texts. Data files are served only from inside their instance's
folder. Reading is for whoever may read the project's first stage; tagging and deleting
are the owner's.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipl.api.ops import operation
from pipl.api.pipelines import (
    DataFile,
    FileContent,
    Instance,
    InstanceDetail,
    InstancePage,
)
from pipl.api.service import Context
from pipl.api.service.pipelines import instance_of, prefix_of
from pipl.errors import UsageError
from pipl.pipe import browse
from pipl.pipe.db import TrackingDb
from pipl.pipe.recipe import SegmentEntry

INSTANCE = "/pipelines/{pipeline}/instances/{segment}/{instance}"  # an instance's path
MAX_DOWNLOAD = 64 * 1024 * 1024  # larger files: the dashboard's download link


@operation("pipelines.instances", "GET", "/pipelines/{pipeline}/instances", summary="instances")
def instances(
    ctx: Context,
    pipeline: str,
    segment: str | None = None,
    status: str | None = None,
    tag: str | None = None,
    since: float | None = None,
    until: float | None = None,
    offset: int = 0,
    limit: int = 50,
) -> InstancePage:
    """One page of instances; ``since``/``until`` keep those started from ``since`` and before
    ``until`` (epoch seconds, or dates and datetimes; a date is UTC midnight)."""
    prefix = prefix_of(ctx, pipeline)
    with browse.open_tracking(prefix) as db:
        chosen = browse.current_segments(prefix, db)
        if segment:
            chosen = [browse.find_segment(prefix, db, segment)]
        total, rows = browse.list_instances(
            db,
            chosen,
            status=status or None,
            tag=tag or None,
            since=since,
            until=until,
            offset=offset,
            limit=limit,
        )
    return InstancePage(total, offset, limit, [instance_of(r) for r in rows])


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


@operation("pipelines.instance", "GET", INSTANCE, summary="an instance")
def instance(
    ctx: Context, pipeline: str, segment: str, instance: str, key: str | None = None
) -> InstanceDetail:
    """One instance: its parameters, inputs, outputs, log and tags (its current key, or
    ``key``)."""
    from pipl.pipe.codeview import segment_params

    with _located(ctx, pipeline, segment, instance, key) as found:
        folder, row = found.folder, found.row
        params = segment_params(browse.segment_folder(found.prefix, found.entry))
        revision = found.db.revisions([row.run_id] if row.run_id else []).get(row.run_id or 0, "")
        downstream = len(browse.dependents(found.db, found.entry, row.name))
    log, cut = browse.read_log(folder)
    saved, exposed = browse.saved_params(folder)
    return InstanceDetail(
        instance_of(row),
        params,
        saved,
        log,
        cut,
        [DataFile(f.name, f.size) for f in browse.data_files(folder)],
        exposed,
        revision,
        downstream,
    )


def file_path(
    ctx: Context, pipeline: str, segment: str, instance: str, path: str, key: str | None = None
) -> Path:
    """The data file ``path`` of an instance, checked to be inside its folder."""
    with _located(ctx, pipeline, segment, instance, key) as found:
        return browse.data_file(found.folder, path)


@operation("pipelines.file", "GET", INSTANCE + "/files/{path*}", summary="an instance's data file")
def data_file(
    ctx: Context, pipeline: str, segment: str, instance: str, path: str, key: str | None = None
) -> FileContent:
    """The content of the instance's data file ``path``."""
    found = file_path(ctx, pipeline, segment, instance, path, key)
    size = found.stat().st_size
    if size > MAX_DOWNLOAD:
        raise UsageError(
            f"{path} has {size} bytes, more than the API sends: download it from the "
            "instance's page of the dashboard"
        )
    return FileContent(path, size, base64.b64encode(found.read_bytes()).decode())


@operation("pipelines.tag", "POST", INSTANCE + "/tag", "owner", "tagging an instance")
def tag(
    ctx: Context, pipeline: str, segment: str, instance: str, tag: str, key: str | None = None
) -> list[str]:
    """Add ``tag`` to the instance; its tags afterwards."""
    browse.check_tag(tag)
    with _located(ctx, pipeline, segment, instance, key) as found:
        found.db.tag(found.entry.key, found.row.name, tag)
        return found.db.tags(found.entry.key, [found.row.name]).get(found.row.name, [])


@operation("pipelines.untag", "POST", INSTANCE + "/untag", "owner", "untagging an instance")
def untag(
    ctx: Context, pipeline: str, segment: str, instance: str, tag: str, key: str | None = None
) -> list[str]:
    """Take ``tag`` off the instance; its tags afterwards."""
    browse.check_tag(tag)
    with _located(ctx, pipeline, segment, instance, key) as found:
        found.db.untag(found.entry.key, found.row.name, tag)
        return found.db.tags(found.entry.key, [found.row.name]).get(found.row.name, [])


@operation("pipelines.delete", "POST", INSTANCE + "/delete", "owner", "deleting an instance's data")
def delete(
    ctx: Context,
    pipeline: str,
    segment: str,
    instance: str,
    key: str | None = None,
    dependents: bool = False,
) -> Instance:
    """Delete the instance's data (the next run computes it again), and the data of every
    instance downstream of it when ``dependents`` (see ``dependents()``)."""
    with _located(ctx, pipeline, segment, instance, key) as found:
        chosen = [(found.entry, found.row.name)]
        browse.delete_instances(found.prefix, found.db, chosen, with_dependents=dependents)
        return instance_of(found.row)


@operation("pipelines.dependents", "GET", INSTANCE + "/dependents", summary="downstream instances")
def dependents(
    ctx: Context, pipeline: str, segment: str, instance: str, key: str | None = None
) -> list[Instance]:
    """The instances downstream of this one (those that used it, and so on)."""
    with _located(ctx, pipeline, segment, instance, key) as found:
        return [instance_of(r) for r in browse.dependents(found.db, found.entry, found.row.name)]


def _selected(
    prefix: Path, db: TrackingDb, instances: list[str] | None
) -> list[tuple[SegmentEntry, str]]:
    """``"SEGMENT/INSTANCE"`` texts as (segment under its current key, instance) pairs."""
    if not instances:
        raise UsageError("select at least one instance (as SEGMENT/INSTANCE)")
    if len(instances) > browse.MAX_SELECTED:
        raise UsageError(f"select at most {browse.MAX_SELECTED} instances at a time")
    entries: dict[str, SegmentEntry] = {}
    chosen = []
    for text in dict.fromkeys(instances):
        segment, sep, name = str(text).partition("/")
        if not sep:
            raise UsageError(f"invalid selection {text!r}: write SEGMENT/INSTANCE")
        if segment not in entries:
            entries[segment] = browse.find_segment(prefix, db, segment)
        chosen.append((entries[segment], browse.check_instance(name)))
    return chosen


@operation(
    "pipelines.delete_selected", "POST", "/pipelines/{pipeline}/delete", "owner", "deleting data"
)
def delete_selected(
    ctx: Context, pipeline: str, instances: list[str] | None = None, dependents: bool = False
) -> list[Instance]:
    """Delete the data of ``instances`` (``"SEGMENT/INSTANCE"``, current keys), with every
    instance downstream of them when ``dependents``; what was deleted."""
    prefix = prefix_of(ctx, pipeline)
    with browse.open_tracking(prefix) as db:
        chosen = _selected(prefix, db, instances)
        rows = browse.delete_instances(prefix, db, chosen, with_dependents=dependents)
    return [instance_of(r) for r in rows]


@operation("pipelines.tag_selected", "POST", "/pipelines/{pipeline}/tag", "owner", "tagging")
def tag_selected(
    ctx: Context, pipeline: str, tag: str, instances: list[str] | None = None, remove: bool = False
) -> list[Instance]:
    """Put ``tag`` on each of ``instances`` (``"SEGMENT/INSTANCE"``), or take it off
    (``remove``); the instances afterwards."""
    browse.check_tag(tag)
    prefix = prefix_of(ctx, pipeline)
    with browse.open_tracking(prefix) as db:
        rows = browse.tag_instances(db, _selected(prefix, db, instances), tag, remove=remove)
    return [instance_of(r) for r in rows]
