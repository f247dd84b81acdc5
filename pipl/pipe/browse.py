"""Looking into a pipeline's data: segments and their counts, instances page by page,
one instance's log, parameters and files, tags, and deleting an instance's data.

Everything here reads the tracking database and the instance folders without loading
the pipeline's code: the segments and their current keys come from the last run's
recipe (``pipl.pipe.recipe``), or, for data older than recipes, from the database.
Paths asked for from outside are checked to stay inside the instance's own folder.
"""

from __future__ import annotations

import json
import os
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipl_pipe.fsutil import LockTimeout
from pipl_pipe.segment.env import PARAMS_TEXT
from pipl_pipe.segment.worker import LOG

from pipl.errors import NotFound, PipelineBusy, UsageError
from pipl.fsutil import locked
from pipl.names import check_simple
from pipl.pipe.db import DB_NAME, TrackingDb
from pipl.pipe.parse import NAME
from pipl.pipe.recipe import SegmentEntry, load_recipe
from pipl.pipe.store import delete_instance_data, instance_dir

STATUSES = ("done", "failed")
KEY = re.compile(r"[0-9a-f]{10}\Z")
TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,39}\Z")
MAX_FILES = 1000
LOG_TAIL = 256 * 1024
PARAMS_MAX = 1024 * 1024
MAX_SELECTED = 500


@dataclass(frozen=True)
class InstanceRow:
    segment: str
    key: str
    name: str
    status: str
    started: float | None
    seconds: float | None
    run_id: int | None
    error: str
    input: str
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FileEntry:
    name: str  # relative to the instance's folder, with '/'
    size: int


def has_data(prefix: Path) -> bool:
    return (prefix / DB_NAME).is_file()


def open_tracking(prefix: Path) -> TrackingDb:
    """The tracking database of ``prefix``, which must exist (nothing is created)."""
    if not has_data(prefix):
        raise NotFound(f"no pipeline data in {prefix}: run the pipeline first")
    return TrackingDb(prefix / DB_NAME)


def pipeline_prefixes(folder: Path) -> list[Path]:
    """The data prefixes (folders with a tracking database) in ``folder``, by name."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []
    return [Path(e.path) for e in entries if e.is_dir() and has_data(Path(e.path))]


def current_segments(prefix: Path, db: TrackingDb) -> list[SegmentEntry]:
    """The segments of the last run, parents first, with their keys."""
    recipe = load_recipe(prefix)
    if recipe is not None:
        return recipe.segments
    latest: dict[str, dict[str, Any]] = {}
    for row in sorted(db.segments(), key=lambda r: r["created"] or 0):
        latest[row["name"]] = row
    names = {row["key"]: row["name"] for row in db.segments()}
    return [
        SegmentEntry(
            row["name"],
            row["key"],
            [names.get(k, p) for p, k in json.loads(row["parents"] or "{}").items()],
            Path(row["path"]),
        )
        for row in latest.values()
    ]


def check_segment(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise UsageError(f"invalid segment name {name!r}: segment names are Python identifiers")
    return name


def check_instance(name: str) -> str:
    return check_simple(name, "instance")


def check_tag(tag: str) -> str:
    if not isinstance(tag, str) or not TAG.match(tag):
        raise UsageError(
            f"invalid tag {tag!r}: use 1-40 letters, digits, spaces, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return tag


def find_segment(
    prefix: Path, db: TrackingDb, segment: str, key: str | None = None
) -> SegmentEntry:
    """Segment ``segment`` under its current key, or under ``key``."""
    check_segment(segment)
    if key is not None and not KEY.match(key):
        raise UsageError(f"invalid segment key {key!r}: keys are 10 hexadecimal digits")
    for entry in current_segments(prefix, db):
        if entry.name == segment and (key is None or entry.key == key):
            return entry
    if key is not None:
        row = db.conn.execute(
            "SELECT path, parents FROM segments WHERE key=? AND name=?", (key, segment)
        ).fetchone()
        if row is not None:
            return SegmentEntry(segment, key, [], Path(row[0]))
    raise NotFound(f"pipeline data {prefix.name} has no segment {segment!r}")


def segment_folder(prefix: Path, entry: SegmentEntry) -> Path:
    """The segment's folder, which must be inside ``prefix``."""
    root = entry.root.resolve()
    if not root.is_relative_to(prefix.resolve()):
        raise NotFound(f"segment {entry.name} is not stored under {prefix}")
    return root


def list_instances(
    db: TrackingDb,
    segments: list[SegmentEntry],
    *,
    status: str | None = None,
    tag: str | None = None,
    since: float | None = None,
    until: float | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, list[InstanceRow]]:
    """One page of the instances of ``segments`` (by segment, then name), and how many
    there are in all; ``since``/``until`` keep those started in that time (epoch
    seconds, ``until`` excluded)."""
    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown instance status {status!r}: choose from {', '.join(STATUSES)}")
    if tag is not None:
        check_tag(tag)
    if offset < 0 or not 1 <= limit <= 500:
        raise UsageError("offset must be 0 or more and limit from 1 to 500")
    total = 0
    rows: list[InstanceRow] = []
    for entry in segments:
        where = "key=?"
        args: list[Any] = [entry.key]
        if status is not None:
            where += " AND ok=?"
            args.append(int(status == "done"))
        if tag is not None:
            where += " AND name IN (SELECT name FROM tags WHERE tag=? AND key=?)"
            args += [tag, entry.key]
        if since is not None:
            where += " AND started>=?"
            args.append(float(since))
        if until is not None:
            where += " AND started<?"
            args.append(float(until))
        count = db.conn.execute(f"SELECT COUNT(*) FROM instances WHERE {where}", args).fetchone()  # noqa: S608 - fixed clauses, values bound
        n = int(count[0])
        skip = max(0, offset - total)
        want = offset + limit - total - skip
        if want > 0 and skip < n:
            columns = "name, ok, started, seconds, run_id, error, input"
            sql = f"SELECT {columns} FROM instances WHERE {where} ORDER BY name LIMIT ? OFFSET ?"  # noqa: S608 - fixed clauses, values bound
            cur = db.conn.execute(sql, [*args, min(want, limit), skip])
            found = cur.fetchall()
            tags = db.tags(entry.key, [r[0] for r in found])
            rows += [
                InstanceRow(
                    entry.name,
                    entry.key,
                    name,
                    "done" if ok else "failed",
                    started,
                    seconds,
                    run_id,
                    error or "",
                    text or "",
                    tags.get(name, []),
                )
                for name, ok, started, seconds, run_id, error, text in found
            ]
        total += n
    return total, rows[:limit]


def get_instance(db: TrackingDb, entry: SegmentEntry, name: str) -> InstanceRow:
    check_instance(name)
    row = db.conn.execute(
        "SELECT ok, started, seconds, run_id, error, input FROM instances WHERE key=? AND name=?",
        (entry.key, name),
    ).fetchone()
    if row is None:
        raise NotFound(f"segment {entry.name} (key {entry.key}) has no instance {name!r}")
    ok, started, seconds, run_id, error, text = row
    tags = db.tags(entry.key, [name]).get(name, [])
    status = "done" if ok else "failed"
    return InstanceRow(
        entry.name, entry.key, name, status, started, seconds, run_id, error or "", text or "", tags
    )


def instance_folder(prefix: Path, entry: SegmentEntry, name: str) -> Path:
    """The instance's folder, which must be a folder of its segment's (not a link out)."""
    root = segment_folder(prefix, entry)
    folder = instance_dir(root, check_instance(name))
    if folder.is_symlink() or not folder.resolve().is_relative_to(root):
        raise NotFound(f"instance {name!r} of {entry.name} is not stored in its segment")
    return folder


def data_files(folder: Path) -> list[FileEntry]:
    """The files of an instance's folder (symbolic links and what is outside left out)."""
    found: list[FileEntry] = []
    if not folder.is_dir():
        return found
    for top, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(top) / name
            if path.is_symlink() or not path.is_file():
                continue
            found.append(FileEntry(path.relative_to(folder).as_posix(), path.stat().st_size))
            if len(found) >= MAX_FILES:
                return found
    return found


def data_file(folder: Path, path: str) -> Path:
    """The file ``path`` of an instance's folder: refused unless it resolves inside it."""
    if not isinstance(path, str) or not path or "\0" in path or "\\" in path:
        raise UsageError(f"invalid data file path {path!r}")
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise UsageError(
            f"invalid data file path {path!r}: give a path inside the instance's folder"
        )
    base = folder.resolve()
    try:
        target = (base / path).resolve(strict=True)
    except (OSError, RuntimeError):
        raise NotFound(f"the instance has no data file {path!r}") from None
    if not target.is_relative_to(base) or not target.is_file():
        raise NotFound(f"the instance has no data file {path!r}")
    return target


def read_log(folder: Path) -> tuple[str, bool]:
    """The instance's log (its end when long), and whether it was cut."""
    path = folder / LOG
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            if size > LOG_TAIL:
                fh.seek(size - LOG_TAIL)
            return fh.read().decode(errors="replace"), size > LOG_TAIL
    except OSError:
        return "", False


def saved_params(folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    """What the instance saved with ``save_param``, and apart what it ``expose``d, as the
    text the segment environment wrote beside its pickle (never unpickled here: segment
    code writes that folder)."""
    path = folder / PARAMS_TEXT
    try:
        if path.is_symlink() or path.stat().st_size > PARAMS_MAX:
            return {}, {}
        data = json.loads(path.read_text())
        values = {str(k): _short(str(v)) for k, v in dict(data.get("values", {})).items()}
        exposed = {str(n) for n in data.get("exposed", [])}
    except (OSError, ValueError, TypeError, AttributeError):  # none saved, or unreadable
        return {}, {}
    saved = {k: v for k, v in sorted(values.items()) if k not in exposed}
    shown = {k: v for k, v in sorted(values.items()) if k in exposed}
    return saved, shown


def _short(text: str) -> str:
    return text if len(text) <= 300 else text[:297] + "..."


def entry_for_key(db: TrackingDb, key: str) -> SegmentEntry | None:
    """The segment recorded under ``key`` (None: no such key)."""
    row = db.conn.execute("SELECT name, path FROM segments WHERE key=?", (key,)).fetchone()
    return SegmentEntry(str(row[0]), key, [], Path(row[1])) if row else None


def dependents(db: TrackingDb, entry: SegmentEntry, name: str) -> list[InstanceRow]:
    """Every recorded instance downstream of instance ``name`` of ``entry``: those that
    used it as an input, those that used them, and so on (nearest first)."""
    seen: set[tuple[str, str]] = {(entry.key, name)}
    queue = deque([(entry.key, name)])
    found: list[InstanceRow] = []
    entries: dict[str, SegmentEntry | None] = {}
    while queue:
        key, parent = queue.popleft()
        for child in db.users_of(key, parent):
            if child in seen:
                continue
            seen.add(child)
            if child[0] not in entries:
                entries[child[0]] = entry_for_key(db, child[0])
            known = entries[child[0]]
            if known is not None:
                found.append(get_instance(db, known, child[1]))
                queue.append(child)
    return found


def delete_instances(
    prefix: Path,
    db: TrackingDb,
    chosen: list[tuple[SegmentEntry, str]],
    *,
    with_dependents: bool = False,
) -> list[InstanceRow]:
    """Remove the data of the ``(segment, instance)`` pairs ``chosen`` (with every instance
    downstream of them when ``with_dependents``) and forget them, tags included: the next
    run computes them again. All or nothing is checked first; refused while a run is using
    the pipeline. Returns what was deleted."""
    if len(chosen) > MAX_SELECTED:
        raise UsageError(f"select at most {MAX_SELECTED} instances at a time")
    try:
        with locked(prefix / "run", timeout=1):
            doomed: dict[tuple[str, str], tuple[SegmentEntry, InstanceRow]] = {}
            for entry, name in chosen:
                row = get_instance(db, entry, name)  # NotFound when unknown
                doomed[(entry.key, name)] = (entry, row)
            if with_dependents:
                for entry, name in chosen:
                    for row in dependents(db, entry, name):
                        known = entry_for_key(db, row.key)
                        if known is not None:
                            doomed.setdefault((row.key, row.name), (known, row))
            folders = {
                key: segment_folder(prefix, entry) for (key, _), (entry, _) in doomed.items()
            }
            for (key, name), _ in doomed.items():
                delete_instance_data(folders[key], name)
                db.forget_instance(key, name)
    except LockTimeout:
        raise PipelineBusy(
            f"a run is using pipeline data {prefix.name}: wait for it to finish, then delete"
        ) from None
    return [row for _, row in doomed.values()]


def delete_instance(prefix: Path, db: TrackingDb, entry: SegmentEntry, name: str) -> None:
    """Remove an instance's data and forget it (tags included): the next run computes it
    again. Refused while a run is using the pipeline."""
    delete_instances(prefix, db, [(entry, name)])


def tag_instances(
    db: TrackingDb, chosen: list[tuple[SegmentEntry, str]], tag: str, *, remove: bool = False
) -> list[InstanceRow]:
    """Put ``tag`` on (or, ``remove``, take it off) each ``(segment, instance)`` chosen;
    every one is checked before any changes. Returns them as they are afterwards."""
    check_tag(tag)
    if len(chosen) > MAX_SELECTED:
        raise UsageError(f"select at most {MAX_SELECTED} instances at a time")
    for entry, name in chosen:
        get_instance(db, entry, name)  # NotFound when unknown
    with db.conn:
        db.conn.execute("BEGIN")
        for entry, name in chosen:
            if remove:
                db.untag(entry.key, name, tag)
            else:
                db.tag(entry.key, name, tag)
    return [get_instance(db, entry, name) for entry, name in chosen]
