"""What was made from a release, transitively.

Two records say a release was made from another, both in the CI database:

- a product's manifest pins the releases it was made from (the catalog's ``provenance``,
  read from the manifests of the products on the stages, ``pipl.ci.catalog``);
- a CI job on a release notes the releases it put on an index (``db.record_made``); those
  of another name than the job's release were made from it (a promotion puts the release
  itself elsewhere, which is not something made from it).

``made_from`` follows both, from the release to what was made from it, from those to what
was made from them, and so on; each release is listed once, nearest first.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from pipl import names
from pipl.ci import catalog


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
