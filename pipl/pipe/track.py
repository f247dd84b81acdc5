"""Pipelines run in workspaces that the project's dashboard shows: the tracked list.

CI keeps its pipelines' data under ``PROJECT/.pipl/pipe-data/``, where the dashboard
finds them. A pipeline run with ``pipl pipe run`` in a workspace keeps its data where
its prefix says; ``pipl pipe track`` adds that prefix, under a name, to
``PROJECT/.pipl/pipe-tracked.json`` (like Pipelet's ``pipeweb track``), and ``untrack``
takes it off. Only the list changes: the data stays where it is. Every change is a
read-modify-write under the file's lock; every path is checked when it is added and
again when it is read (a prefix whose tracking database is gone is left out).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from pipl.errors import NotFound, UsageError
from pipl.fsutil import atomic_write, locked
from pipl.names import check_simple, normalize_dist
from pipl.pipe.db import DB_NAME

TRACKED = "pipe-tracked.json"


@dataclass(frozen=True)
class Tracked:
    name: str
    prefix: Path
    added: float
    by: str  # who tracked it (the user name of the shell, or "")


def tracked_file(state_dir: Path) -> Path:
    return state_dir / TRACKED


def read_tracked(state_dir: Path) -> dict[str, Tracked]:
    """The tracked pipelines by name (an unreadable list counts as empty: the dashboard
    shows CI's pipelines all the same)."""
    try:
        data = json.loads(tracked_file(state_dir).read_text())
        found = {
            str(name): Tracked(str(name), Path(e["prefix"]), float(e["added"]), str(e["by"]))
            for name, e in dict(data["pipelines"]).items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    return {n: t for n, t in found.items() if _valid_name(n) and t.prefix.is_absolute()}


def _valid_name(name: str) -> bool:
    try:
        check_simple(name, "pipeline")
    except UsageError:
        return False
    return normalize_dist(name) == name


def check_prefix(prefix: Path) -> Path:
    """``prefix`` as an absolute path, refused unless it is a folder with pipeline data."""
    resolved = prefix.expanduser().resolve()
    if not resolved.is_dir():
        raise UsageError(f"{prefix} is not a folder: give the pipeline's data prefix")
    if not (resolved / DB_NAME).is_file():
        raise UsageError(
            f"{resolved} has no {DB_NAME}: run the pipeline once ('pipl pipe run'), then track it"
        )
    return resolved


def track(
    state_dir: Path, name: str, prefix: Path, by: str = "", ci: Path | None = None
) -> Tracked:
    """Add ``prefix`` under ``name`` (the same pair again changes nothing). Refused when
    ``name`` is taken by another prefix, or by a CI pipeline (whose data is in ``ci``)."""
    check_simple(name, "pipeline")
    name = normalize_dist(name)
    resolved = check_prefix(prefix)
    if ci is not None and (ci / name / DB_NAME).is_file():
        raise UsageError(
            f"pipeline {name!r} is a CI pipeline of this project: track this one under "
            "another name (--name)"
        )
    path = tracked_file(state_dir)
    with locked(path):
        found = read_tracked(state_dir)
        same = found.get(name)
        if same is not None and same.prefix != resolved:
            raise UsageError(
                f"pipeline name {name!r} already tracks {same.prefix}: choose another name "
                f"(--name) or 'pipl pipe untrack {name}' first"
            )
        if same is not None:
            return same
        entry = Tracked(name, resolved, time.time(), by)
        found[name] = entry
        _write(path, found)
    return entry


def untrack(state_dir: Path, name: str) -> Tracked:
    """Take ``name`` off the list (its data stays); NotFound when it is not on it."""
    check_simple(name, "pipeline")
    name = normalize_dist(name)
    path = tracked_file(state_dir)
    with locked(path):
        found = read_tracked(state_dir)
        entry = found.pop(name, None)
        if entry is None:
            known = ", ".join(sorted(found)) or "none"
            raise NotFound(f"no tracked pipeline {name!r} (tracked: {known})")
        _write(path, found)
    return entry


def _write(path: Path, found: dict[str, Tracked]) -> None:
    data = {
        "pipelines": {
            t.name: {"prefix": str(t.prefix), "added": t.added, "by": t.by}
            for t in sorted(found.values(), key=lambda t: t.name)
        }
    }
    atomic_write(path, json.dumps(data, indent=1) + "\n")
