"""The releases catalog: what each stage index holds, kept in the CI database.

It sits with the index client, below the CI runner and the API that both keep and read
it; it works on a connection to ``ci.sqlite`` its caller opened (the tables are made by
``pipl.ci.database``).

Listing a stage from devpi means one request per project on it (and one per release for
its details), too slow for a page with a thousand releases. The runner keeps a copy in
its database instead, with the reads it makes anyway:

- a hint (an upload's commit) records the release it names, files and all;
- the sweep (whenever devpi's serial moved) reads every release of the stage indexes and
  makes the catalog equal to it: releases removed or replaced on the volatile first stage
  go or change, and the catalog notes the serial it is true at;
- a promotion records the releases it pushed, so its result shows at once.

``fresh`` tells a reader whether the catalog is true at devpi's present serial. Products
(releases marked ``pipl-product``) have their manifest read once and kept, with the
sources they pin, so a release's consumers are one indexed query.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipl import names
from pipl.errors import FrameworkError, PiplError
from pipl.index.client import IndexClient
from pipl.index.links import Link, links_of
from pipl.index.manifest import is_product as is_product  # importable from here too
from pipl.index.manifest import read_manifest


@dataclass(frozen=True)
class Entry:
    """One release on one index, as the catalog holds it."""

    index: str
    project: str
    version: str
    seen: float  # when its first file arrived on the index
    files: list[dict[str, str]]  # {"name", "sha256", "href"}
    product: bool


def _when(links: list[dict[str, Any]], index: str) -> float | None:
    """When the release's files arrived on ``index``, as devpi logged it (the earliest
    upload or push to ``index``; else the earliest time it logged at all)."""
    here, anywhere = [], []
    for link in links:
        for entry in link.get("log") or []:
            when = entry.get("when")
            if not (isinstance(when, list) and len(when) >= 6):
                continue
            try:
                y, mo, d, h, mi, sec = (int(x) for x in when[:6])
                stamp = datetime(y, mo, d, h, mi, sec, tzinfo=UTC).timestamp()
            except (TypeError, ValueError):
                continue
            anywhere.append(stamp)
            if entry.get("dst") == index:
                here.append(stamp)
    found = here or anywhere
    return min(found) if found else None


def version_key(version: str) -> str:
    """Text that sorts like the version (PEP 440), to order releases that arrived in the
    same second (devpi logs times to the second)."""
    from packaging.version import InvalidVersion, Version

    try:
        v = Version(version)
    except InvalidVersion:
        return version
    release = ".".join(f"{n:09d}" for n in (*v.release, 0, 0, 0)[:6])
    if v.dev is not None and v.pre is None and v.post is None:
        phase = f"0{v.dev:09d}"
    elif v.pre is not None:
        phase = f"1{v.pre[0]:>2}{v.pre[1]:09d}"
    else:
        phase = "2"
    post = f"{v.post:09d}" if v.post is not None else ""
    return f"{v.epoch:04d}!{release}{phase}{post}"


def _files(data: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"name": lk.basename, "sha256": lk.sha256 or "", "href": lk.href}
        for lk in links_of(data)
        if lk.rel == "releasefile"
    ]


def record(
    conn: sqlite3.Connection,
    index: str,
    project: str,
    version: str,
    data: dict[str, Any] | None,
    serial: int,
) -> None:
    """Make the catalog's entry of one release equal to devpi's ``data`` (None, or no
    release files: the release is gone from ``index``)."""
    project = names.normalize_dist(project)
    files = _files(data or {})
    if not files:
        _forget(conn, index, project, version)
        return
    seen = _when((data or {}).get("+links") or [], index) or time.time()
    text = json.dumps(files, separators=(",", ":"))
    old = conn.execute(
        "SELECT files FROM releases WHERE ix = ? AND project = ? AND version = ?",
        (index, project, version),
    ).fetchone()
    if old is not None and old[0] == text:
        return
    conn.execute(
        "INSERT INTO releases (ix, project, version, seen, vkey, serial, files, product) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ix, project, version) DO UPDATE SET "
        "serial = excluded.serial, files = excluded.files, product = excluded.product",
        (
            index,
            project,
            version,
            seen,
            version_key(version),
            serial,
            text,
            int(is_product(data or {})),
        ),
    )
    if old is not None:  # replaced files: read the manifest again
        _forget_manifest(conn, index, project, version)


def _forget(conn: sqlite3.Connection, index: str, project: str, version: str) -> None:
    conn.execute(
        "DELETE FROM releases WHERE ix = ? AND project = ? AND version = ?",
        (index, project, version),
    )
    _forget_manifest(conn, index, project, version)


def _forget_manifest(conn: sqlite3.Connection, index: str, project: str, version: str) -> None:
    for table in ("manifests", "provenance"):
        conn.execute(
            f"DELETE FROM {table} WHERE ix = ? AND project = ? AND version = ?",  # noqa: S608 - table names are constants
            (index, project, version),
        )


def read_index(client: IndexClient, index: str) -> dict[str, dict[str, Any]]:
    """Every release stored on ``index`` itself: ``{project: {version: data}}``."""
    return {project: client.stage_versions(index, project) for project in client.projects(index)}


def sync_index(
    conn: sqlite3.Connection, index: str, content: dict[str, dict[str, Any]], serial: int
) -> None:
    """Make the catalog of ``index`` equal to ``content`` (``read_index``), true at
    ``serial``, in one transaction.

    ``content`` was read at ``serial`` or later, and reading every index takes a while: a
    release recorded meanwhile at a later serial (by a hint or a push) may be newer than
    what was read, so it is left as it is; the next sweep, at a later serial, checks it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = conn.execute("SELECT project, version, serial FROM releases WHERE ix = ?", (index,))
        known = {(str(p), str(v)): int(s) for p, v, s in rows.fetchall()}
        present = set()
        for project, versions in content.items():
            key = names.normalize_dist(project)
            for version, data in versions.items():
                if _files(data):
                    present.add((key, version))
                if known.get((key, version), -1) <= serial:
                    record(conn, index, key, version, data, serial)
        for (project, version), at in known.items():
            if (project, version) not in present and at <= serial:
                _forget(conn, index, project, version)
        conn.execute(
            "INSERT INTO catalog_indexes (ix, serial, synced) VALUES (?, ?, ?) "
            "ON CONFLICT (ix) DO UPDATE SET serial = excluded.serial, synced = excluded.synced",
            (index, serial, time.time()),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def sync(
    conn: sqlite3.Connection,
    client: IndexClient,
    indexes: Iterable[str],
    *,
    read: dict[str, dict[str, dict[str, Any]]] | None = None,
    serial: int | None = None,
) -> int:
    """Bring the catalog of ``indexes`` in line with devpi; ``read`` holds indexes read
    already at ``serial`` (the sweep's). Returns the serial it is true at."""
    if serial is None:
        serial = int(client.status().get("serial", -1))
    for index in indexes:
        content = (read or {}).get(index)
        if content is None:
            content = read_index(client, index)
        sync_index(conn, index, content, serial)
    fill_manifests(conn, client)
    return serial


def synced_serial(conn: sqlite3.Connection, indexes: Iterable[str]) -> int | None:
    """The serial the catalog of every one of ``indexes`` is true at (None: one was never
    read)."""
    wanted = list(indexes)
    rows = dict(
        conn.execute(
            f"SELECT ix, serial FROM catalog_indexes WHERE ix IN ({','.join('?' * len(wanted))})",  # noqa: S608 - placeholders only
            wanted,
        ).fetchall()
    )
    if len(rows) != len(set(wanted)):
        return None
    return min(rows.values()) if rows else None


# -- reading -----------------------------------------------------------------------------


def _entry(row: tuple[Any, ...]) -> Entry:
    return Entry(row[0], row[1], row[2], row[3], json.loads(row[4]), bool(row[5]))


COLUMNS = "ix, project, version, seen, files, product"


def newest(
    conn: sqlite3.Connection, index: str, *, offset: int = 0, limit: int = 50
) -> list[Entry]:
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM releases WHERE ix = ? "  # noqa: S608 - constant columns
        "ORDER BY seen DESC, vkey DESC, rowid DESC LIMIT ? OFFSET ?",
        (index, limit, offset),
    ).fetchall()
    return [_entry(r) for r in rows]


def count(conn: sqlite3.Connection, index: str) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM releases WHERE ix = ?", (index,)).fetchone()[0])


def get(conn: sqlite3.Connection, index: str, project: str, version: str) -> Entry | None:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM releases WHERE ix = ? AND project = ? AND version = ?",  # noqa: S608 - constant columns
        (index, names.normalize_dist(project), version),
    ).fetchone()
    return _entry(row) if row else None


def where(conn: sqlite3.Connection, project: str, version: str) -> list[str]:
    """The indexes holding the release."""
    rows = conn.execute(
        "SELECT ix FROM releases WHERE project = ? AND version = ?",
        (names.normalize_dist(project), version),
    )
    return [r[0] for r in rows]


def products(
    conn: sqlite3.Connection, indexes: list[str], *, offset: int = 0, limit: int = 50
) -> list[Entry]:
    marks = ",".join("?" * len(indexes))
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM releases WHERE product = 1 AND ix IN ({marks}) "  # noqa: S608 - placeholders only
        "ORDER BY seen DESC, vkey DESC, rowid DESC LIMIT ? OFFSET ?",
        (*indexes, limit, offset),
    ).fetchall()
    return [_entry(r) for r in rows]


def manifest(conn: sqlite3.Connection, index: str, project: str, version: str) -> Any:
    """The manifest (JSON data) of a product release, None when unknown; raises
    ``ValueError`` with the reason when it could not be read."""
    row = conn.execute(
        "SELECT manifest, error FROM manifests WHERE ix = ? AND project = ? AND version = ?",
        (index, names.normalize_dist(project), version),
    ).fetchone()
    if row is None:
        return None
    if row[1]:
        raise ValueError(row[1])
    return json.loads(row[0]) if row[0] else None


def manifest_missing(conn: sqlite3.Connection, index: str, project: str, version: str) -> bool:
    """True for a product release whose manifest was not read yet."""
    row = conn.execute(
        "SELECT 1 FROM releases AS r LEFT JOIN manifests AS m ON m.ix = r.ix "
        "AND m.project = r.project AND m.version = r.version WHERE r.ix = ? AND r.project = ? "
        "AND r.version = ? AND r.product = 1 AND m.ix IS NULL",
        (index, names.normalize_dist(project), version),
    ).fetchone()
    return row is not None


def consumers(conn: sqlite3.Connection, project: str, version: str) -> list[tuple[str, str, str]]:
    """Products made from ``project==version``: (index, product, version)."""
    rows = conn.execute(
        "SELECT DISTINCT ix, project, version FROM provenance "
        "WHERE source = ? AND source_version = ? ORDER BY project, version, ix",
        (names.normalize_dist(project), version),
    )
    return [tuple(r) for r in rows]


# -- product manifests -------------------------------------------------------------------


def fill_manifests(conn: sqlite3.Connection, client: IndexClient, limit: int = 200) -> int:
    """Read the manifests of products that have none recorded yet (from their wheel, else
    sdist); a manifest that cannot be read is recorded with its error."""
    import tempfile

    from packaging.requirements import InvalidRequirement, Requirement

    rows = conn.execute(
        "SELECT r.ix, r.project, r.version, r.files FROM releases AS r "
        "LEFT JOIN manifests AS m ON m.ix = r.ix AND m.project = r.project "
        "AND m.version = r.version WHERE r.product = 1 AND m.ix IS NULL LIMIT ?",
        (limit,),
    ).fetchall()
    done = 0
    with tempfile.TemporaryDirectory(prefix="pipl-catalog-") as tmp:
        for index, project, version, files_text in rows:
            files = json.loads(files_text)
            pick = sorted(files, key=lambda f: not f["name"].endswith(".whl"))[0]
            where = f"product {project} {version} on {index}"
            data: Any = None
            error = ""
            try:
                link = Link(pick["name"], pick["href"], "releasefile", pick["sha256"])
                local = client.download(link.href, Path(tmp) / link.basename)
                data = read_manifest(local, where)
                local.unlink()
            except (FrameworkError, OSError) as exc:
                error = str(exc)
            except PiplError:  # the server answered an error: try again next time
                continue
            doc = None
            if data is not None:
                doc = {
                    "name": data.name,
                    "version": data.version,
                    "type": data.type,
                    "description": data.description,
                    "sources": list(data.sources),
                    "source_files": data.source_files,
                    "assets": [a.to_dict() for a in data.assets],
                }
            conn.execute(
                "INSERT OR REPLACE INTO manifests VALUES (?, ?, ?, ?, ?, ?)",
                (index, project, version, pick["sha256"], json.dumps(doc) if doc else None, error),
            )
            for pin in (doc or {}).get("sources", []):
                try:
                    req = Requirement(pin)
                    [spec] = list(req.specifier)
                except (InvalidRequirement, ValueError):
                    continue
                conn.execute(
                    "INSERT INTO provenance VALUES (?, ?, ?, ?, ?)",
                    (index, project, version, names.normalize_dist(req.name), spec.version),
                )
            done += 1
    return done
