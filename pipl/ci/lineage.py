"""What was made from a release, transitively.

Two records say a release was made from another, both in the CI database:

- a product's manifest pins the releases it was made from (the catalog's ``provenance``,
  read from the manifests of the products on the stages, ``pipl.index.catalog``);
- a CI job on a release notes the releases it put on an index (``db.record_made``); those
  of another name than the job's release were made from it (a promotion puts the release
  itself elsewhere, which is not something made from it).

``made_from`` follows both, from the release to what was made from it, from those to what
was made from them, and so on; each release is listed once, nearest first.

``stale`` tells whether a product fell behind its upstream: a release it was made from has
a newer release on the product's stage or an earlier one that did not flow into a newer
product (the flow was paused there, the re-processing failed, the task opted out, or it
has not run yet).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from pipl import names
from pipl.ci import downstream
from pipl.index import catalog


@dataclass(frozen=True)
class Derived:
    """A release made (directly or not) from the one asked about."""

    project: str
    version: str
    indexes: list[str]  # the stage indexes holding it now (none: removed since)
    source: str  # the release it was made from directly, "NAME==VERSION"
    depth: int  # 1: made from the release asked about, 2: from one of those...


def _made_by_jobs(conn: sqlite3.Connection, project: str, version: str) -> list[tuple[str, str]]:
    """(project, version) of the releases CI jobs on ``project version`` made."""
    rows = conn.execute(
        "SELECT DISTINCT m.project, m.version FROM made AS m JOIN jobs AS j ON j.id = m.job_id "
        "WHERE j.project = ? AND j.version = ? AND m.project != j.project",
        (project, version),
    )
    return [(names.normalize_dist(p), str(v)) for p, v in rows]


def direct(conn: sqlite3.Connection, project: str, version: str) -> list[tuple[str, str]]:
    """The releases made from ``project version`` itself, sorted."""
    key = names.normalize_dist(project)
    found = {(p, v) for _, p, v in catalog.consumers(conn, key, version)}
    found.update(_made_by_jobs(conn, key, version))
    found.discard((key, version))
    return sorted(found)


def made_from(conn: sqlite3.Connection, project: str, version: str) -> list[Derived]:
    """Every release made from ``project version``, transitively, nearest first
    (``conn``: the project's CI database, ``pipl.ci.db.open_db``)."""
    start = (names.normalize_dist(project), version)
    seen = {start}
    result: list[Derived] = []
    layer = [start]
    depth = 0
    while layer:
        depth += 1
        following = []
        for parent in layer:
            for child in direct(conn, *parent):
                if child in seen:
                    continue
                seen.add(child)
                following.append(child)
                result.append(
                    Derived(
                        project=child[0],
                        version=child[1],
                        indexes=sorted(catalog.where(conn, *child)),
                        source=f"{parent[0]}=={parent[1]}",
                        depth=depth,
                    )
                )
        layer = following
    return result


def _direct_sources(conn: sqlite3.Connection, project: str, version: str) -> set[tuple[str, str]]:
    """The releases ``project version`` was made from directly."""
    found = {
        (names.normalize_dist(p), str(v))
        for p, v in conn.execute(
            "SELECT DISTINCT source, source_version FROM provenance "
            "WHERE project = ? AND version = ?",
            (project, version),
        )
    }
    found.update(
        (names.normalize_dist(p), str(v))
        for p, v in conn.execute(
            "SELECT DISTINCT j.project, j.version FROM made AS m JOIN jobs AS j "
            "ON j.id = m.job_id WHERE m.project = ? AND m.version = ? AND m.project != j.project",
            (project, version),
        )
    )
    return found


def made_of(conn: sqlite3.Connection, project: str, version: str) -> list[tuple[str, str]]:
    """Every release ``project version`` was made from, transitively (its sources, their
    sources...), sorted."""
    start = (names.normalize_dist(project), version)
    seen = {start}
    todo = [start]
    while todo:
        for source in _direct_sources(conn, *todo.pop()):
            if source not in seen:
                seen.add(source)
                todo.append(source)
    seen.discard(start)
    return sorted(seen)


# -- stale products ----------------------------------------------------------------------


@dataclass(frozen=True)
class Stale:
    """A product was made from ``source pinned`` (``pinned`` "": a release its manifest
    does not pin), and ``source newer`` (on ``index``) did not flow into a newer one."""

    source: str
    pinned: str
    newer: str
    index: str

    def __str__(self) -> str:
        return f"{self.source} {self.newer} did not flow"


def stale(conn: sqlite3.Connection, indexes: list[str], project: str, version: str) -> list[Stale]:
    """Why product ``project version`` is stale (empty: it is not), one reason per
    upstream name, on the stages ``indexes`` (in order) up to the last one holding it:

    - a release it pins (its manifest's sources) has a newer release there;
    - a release was meant to flow into the task that made it (a re-processing was queued
      for it, or it landed while the flow was paused), newer than what it pins of that
      name;

    unless a product of its name pins that release or a later one, or a re-processing for
    one that the task follows passed (its products were the same)."""
    key = names.normalize_dist(project)
    holders = set(catalog.where(conn, key, version))
    held = [n for n, index in enumerate(indexes) if index in holders]
    if not held:
        return []
    upto = indexes[: held[-1] + 1]
    pins = dict(_pins(conn, key, version))
    candidates: list[tuple[str, str, str]] = []
    for source, pinned in pins.items():
        newest = _newest(conn, upto, source, pinned)
        if newest is not None:
            candidates.append((newest[1], source, newest[0]))
    for index, source, newer in downstream.expected(conn, _tasks(conn, key)):
        base = _version(pins.get(source, ""))
        if index in upto and (base is None or Version(newer) > base):
            candidates.append((index, source, newer))
    best: dict[str, Stale] = {}
    for index, source, newer in candidates:
        if source in best and Version(best[source].newer) >= Version(newer):
            continue
        if not _flowed(conn, key, source, newer):
            best[source] = Stale(source, pins.get(source, ""), newer, index)
    return [best[s] for s in sorted(best)]


def _tasks(conn: sqlite3.Connection, product: str) -> list[str]:
    """The packls whose processing made a release of ``product``."""
    rows = conn.execute(
        "SELECT DISTINCT t.project FROM made AS m JOIN jobs AS t ON t.id = m.job_id "
        "WHERE m.project = ? AND t.handler = ? AND t.project != m.project",
        (product, downstream.HANDLER),
    )
    return [str(r[0]) for r in rows]


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _pins(conn: sqlite3.Connection, project: str, version: str) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT DISTINCT source, source_version FROM provenance WHERE project = ? AND version = ?",
        (project, version),
    )
    return sorted({(names.normalize_dist(s), str(v)) for s, v in rows})


def _newest(
    conn: sqlite3.Connection, indexes: list[str], source: str, pinned: str
) -> tuple[str, str] | None:
    """(version, index) of the newest release of ``source`` on ``indexes`` when it is
    newer than ``pinned`` (a pre-release only after a pre-release)."""
    base = _version(pinned)
    if base is None:
        return None
    marks = ",".join("?" * len(indexes))
    rows = conn.execute(
        f"SELECT version, ix FROM releases WHERE project = ? AND ix IN ({marks})",  # noqa: S608 - placeholders only
        (source, *indexes),
    )
    best: tuple[Version, str, str] | None = None
    for text, index in rows:
        key = _version(str(text))
        if key is None or key <= base or (key.is_prerelease and not base.is_prerelease):
            continue
        if best is None or key > best[0]:
            best = (key, str(text), str(index))
    return (best[1], best[2]) if best else None


def _flowed(conn: sqlite3.Connection, product: str, source: str, newer: str) -> bool:
    """Whether ``source newer`` (or a later release) flowed into product ``product``: a
    release of it pins one, or a re-processing for one that followed it passed."""
    wanted = Version(newer)
    rows = conn.execute(
        "SELECT DISTINCT source_version FROM provenance WHERE project = ? AND source = ?",
        (product, source),
    )
    if any((v := _version(str(r[0]))) is not None and v >= wanted for r in rows):
        return True
    tasks = _tasks(conn, product)
    marks = ",".join("?" * len(tasks))
    rows = conn.execute(
        f"SELECT r.pins, j.message FROM remakes AS r JOIN jobs AS j ON j.id = r.job_id "  # noqa: S608 - placeholders only
        f"WHERE j.state = 'passed' AND j.project IN ({marks})",
        tasks,
    )
    for pins, message in rows:
        if ": not followed (" in str(message):
            continue  # the task opted out
        for pin in json.loads(pins):
            name, _, text = str(pin).partition("==")
            if names.normalize_dist(name) == source:
                v = _version(text)
                if v is not None and v >= wanted:
                    return True
    return False
