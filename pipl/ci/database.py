"""The project's CI database, ``.pipl/ci/ci.sqlite``: the one place that opens it and owns
its schema.

Its tables, by the module that reads and writes them: ``events``, ``complete`` and
``hints`` (``pipl.ci.outbox``); ``jobs`` and ``made`` (``pipl.ci.db``); ``releases``,
``catalog_indexes``, ``manifests`` and ``provenance`` (``pipl.index.catalog``); ``reviews``
(``pipl.ci.reviews``); ``remakes``, ``flow_paused`` and ``flow_skipped``
(``pipl.ci.downstream``).

The schema has a version, kept in the file (``PRAGMA user_version``); ``MIGRATIONS`` bring
a database from one version to the next, each in one transaction. ``connect`` applies the
missing ones the first time a database is opened at an older version (the runner opens it
as it starts; devpi's upload hook may come first), under a write lock so that two
processes never apply one twice. After that, opening reads the version (one read of the
file's header) and runs no DDL. ``connect(..., migrate=False)``, what the web server's
requests use, never changes the schema: the server brings the database up to date when it
starts. A database from before versions (version 0) becomes version 1 without losing a
row: each table is made only where it is missing, and ``jobs`` gains the ``reason`` column
it may lack.

This module runs inside devpi-server too (the upload hook), so it imports only the
standard library and ``pipl.errors`` (which imports nothing).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

from pipl.errors import ProjectError

DB_NAME = "ci.sqlite"
BUSY_TIMEOUT_MS = 5000

# Version 1: the tables as they were before the schema had a version, each made only
# where it is missing (statement by statement: executescript would commit the migration's
# transaction half-way).
BASELINE = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    filename TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    serial INTEGER NOT NULL,
    source TEXT NOT NULL,
    recorded REAL NOT NULL,
    taken INTEGER NOT NULL DEFAULT 0,
    UNIQUE (ix, filename, sha256)
);
CREATE INDEX IF NOT EXISTS events_taken ON events (taken, id);
CREATE TABLE IF NOT EXISTS complete (
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    recorded REAL NOT NULL,
    UNIQUE (ix, project, version)
);
CREATE TABLE IF NOT EXISTS hints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    serial INTEGER NOT NULL,
    recorded REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    handler TEXT NOT NULL,
    rank INTEGER NOT NULL,
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    key TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    filename TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    runner_pid INTEGER,
    child_pid INTEGER,
    message TEXT NOT NULL DEFAULT '',
    UNIQUE (ix, project, version, handler, key)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, id);
CREATE INDEX IF NOT EXISTS jobs_release ON jobs (ix, project, version);
CREATE INDEX IF NOT EXISTS jobs_name ON jobs (project, version);
CREATE TABLE IF NOT EXISTS made (
    job_id INTEGER NOT NULL,
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    UNIQUE (job_id, ix, project, version)
);
CREATE TABLE IF NOT EXISTS releases (
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    seen REAL NOT NULL,
    vkey TEXT NOT NULL DEFAULT '',
    serial INTEGER NOT NULL,
    files TEXT NOT NULL,
    product INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ix, project, version)
);
CREATE INDEX IF NOT EXISTS releases_newest ON releases (ix, seen, vkey);
CREATE TABLE IF NOT EXISTS catalog_indexes (
    ix TEXT PRIMARY KEY,
    serial INTEGER NOT NULL,
    synced REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS manifests (
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    manifest TEXT,
    error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (ix, project, version)
);
CREATE TABLE IF NOT EXISTS provenance (
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    source TEXT NOT NULL,
    source_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS provenance_source ON provenance (source, source_version);
CREATE INDEX IF NOT EXISTS provenance_product ON provenance (ix, project, version);
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    user TEXT NOT NULL,
    decision TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    files TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS reviews_release ON reviews (ix, project, version, id);
CREATE TABLE IF NOT EXISTS remakes (
    job_id INTEGER PRIMARY KEY,
    pins TEXT NOT NULL,
    chain TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS flow_paused (
    ix TEXT PRIMARY KEY,
    since REAL NOT NULL,
    by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS flow_skipped (
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    event TEXT NOT NULL,
    tasks TEXT NOT NULL,
    PRIMARY KEY (ix, project, version)
);
"""


def _baseline(conn: sqlite3.Connection) -> None:
    for statement in filter(str.strip, BASELINE.split(";")):
        conn.execute(statement)
    # why a job runs when its release's upload is not the reason (a re-processing); a
    # database from before versions may have had it added already
    if "reason" not in {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}:
        conn.execute("ALTER TABLE jobs ADD COLUMN reason TEXT NOT NULL DEFAULT ''")


@dataclass(frozen=True)
class Migration:
    """What brings a database at ``version - 1`` to ``version``."""

    version: int
    summary: str
    apply: Callable[[sqlite3.Connection], None]


# Append only: a released migration never changes (databases out there have applied it).
MIGRATIONS = (Migration(1, "the CI tables, made where missing", _baseline),)
VERSION = MIGRATIONS[-1].version


class Connection(sqlite3.Connection):
    """A connection to the CI database that closes when its ``with`` block ends (committing
    an open transaction first, or rolling it back on an error)."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        try:
            super().__exit__(exc_type, exc, tb)
        finally:
            self.close()
        return False


def path_in(folder: Path) -> Path:
    return Path(folder) / DB_NAME


def version_of(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def apply_migrations(conn: sqlite3.Connection) -> list[Migration]:
    """Apply the migrations ``conn``'s database lacks, each in a transaction of its own,
    holding the write lock so that another process cannot apply them at the same time;
    return the ones applied."""
    applied = []
    for step in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if version_of(conn) == step.version - 1:  # not applied meanwhile elsewhere
                step.apply(conn)
                conn.execute(f"PRAGMA user_version = {int(step.version)}")
                applied.append(step)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return applied


def _open(folder: Path) -> Connection:
    """A connection to the database in ``folder`` (the file made if missing), in WAL mode so
    the devpi plugin and the runner write beside each other."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path_in(folder),
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        factory=Connection,
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def connect_read_only(folder: Path) -> Connection | None:
    """The database in ``folder`` for reading only (``/metrics``: it never writes, nor
    waits on a writer's lock for long); None before it exists."""
    path = path_in(Path(folder))
    if not path.is_file():
        return None
    conn = sqlite3.connect(
        f"{path.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000, factory=Connection
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _refuse_newer(conn: sqlite3.Connection, folder: Path) -> int:
    found = version_of(conn)
    if found > VERSION:
        raise ProjectError(
            f"{path_in(folder)} has schema version {found}, newer than this pipl knows "
            f"({VERSION}): use the pipl that wrote it, or a newer one"
        )
    return found


def upgrade(folder: Path) -> list[Migration]:
    """Bring the database in ``folder`` up to date now; the migrations applied."""
    with _open(folder) as conn:
        _refuse_newer(conn, folder)
        return apply_migrations(conn)


def connect(folder: Path, *, migrate: bool = True) -> Connection:
    """The CI database in ``folder`` (made on first use). An older schema is brought up to
    date, unless ``migrate`` is false: then it is refused (no DDL on that path)."""
    conn = _open(folder)
    try:
        found = _refuse_newer(conn, folder)
        if found < VERSION and not migrate:
            raise ProjectError(
                f"{path_in(folder)} has schema version {found} and this pipl needs {VERSION}: "
                "restart the CI runner (pipl proj stop, pipl proj start) to bring it up to date"
            )
        if found < VERSION:
            apply_migrations(conn)
    except BaseException:
        conn.close()
        raise
    return conn
