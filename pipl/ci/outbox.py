"""The CI outbox: upload events recorded durably in the project's CI database.

This module runs inside devpi-server (through pipl's plugin) as well as in the runner, so
it imports only the standard library and ``pipl.ci.database`` (which owns the tables).
Recording is idempotent: one event per (index, filename, sha256), whoever records it (the
upload hook, the fast hint after commit, or the runner's sweep) and however often (devpi
replays hooks after a crash).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from pipl.ci.database import DB_NAME as DB_NAME  # where the tables live, re-exported
from pipl.ci.database import Connection
from pipl.ci.database import connect as _connect


@dataclass(frozen=True)
class Event:
    """A file that arrived on an index that asks for CI handlers."""

    id: int
    index: str
    project: str
    version: str
    filename: str
    sha256: str
    serial: int
    source: str
    recorded: float


def ci_dir(project_root: Path) -> Path:
    return Path(project_root) / ".pipl" / "ci"


def ci_dir_for_serverdir(serverdir: Path) -> Path | None:
    """``PROJECT/.pipl/ci`` for devpi's ``PROJECT/.pipl/devpi``; None for a devpi-server
    that pipl did not set up."""
    serverdir = Path(serverdir)
    state = serverdir.parent
    if state.name != ".pipl" or not (state.parent / "pipl.toml").is_file():
        return None
    return state / "ci"


def connect(folder: Path, *, migrate: bool = True) -> Connection:
    """The CI database in ``folder`` (``pipl.ci.database.connect``)."""
    return _connect(folder, migrate=migrate)


def record_event(
    conn: sqlite3.Connection,
    *,
    index: str,
    project: str,
    version: str,
    filename: str,
    sha256: str,
    serial: int,
    source: str,
) -> bool:
    """Record one file event; False when it was recorded already."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO events "
        "(ix, project, version, filename, sha256, serial, source, recorded) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (index, project, version, filename, sha256, serial, source, time.time()),
    )
    return cur.rowcount == 1


def record_hint(
    conn: sqlite3.Connection, *, index: str, project: str, version: str, serial: int
) -> None:
    """Note that a release changed at ``serial``: the runner reads its files at once."""
    conn.execute(
        "INSERT INTO hints (ix, project, version, serial, recorded) VALUES (?, ?, ?, ?, ?)",
        (index, project, version, serial, time.time()),
    )


def pending_events(conn: sqlite3.Connection, limit: int = 500) -> list[Event]:
    rows = conn.execute(
        "SELECT id, ix, project, version, filename, sha256, serial, source, recorded "
        "FROM events WHERE taken = 0 ORDER BY id LIMIT ?",
        (limit,),
    ).fetchall()
    return [Event(*row) for row in rows]


def mark_taken(conn: sqlite3.Connection, ids: list[int]) -> None:
    conn.executemany("UPDATE events SET taken = 1 WHERE id = ?", [(i,) for i in ids])


def take_hints(conn: sqlite3.Connection) -> list[tuple[str, str, str, int, float]]:
    """Pop every hint: (index, project, version, serial, recorded)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = conn.execute(
            "SELECT id, ix, project, version, serial, recorded FROM hints ORDER BY id"
        ).fetchall()
        if rows:
            conn.execute("DELETE FROM hints WHERE id <= ?", (rows[-1][0],))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return [tuple(r[1:]) for r in rows]


def known_files(conn: sqlite3.Connection, index: str) -> set[tuple[str, str]]:
    """(filename, sha256) of every event recorded for ``index``."""
    return {
        (f, s)
        for f, s in conn.execute("SELECT filename, sha256 FROM events WHERE ix = ?", (index,))
    }


def record_complete(conn: sqlite3.Connection, *, index: str, project: str, version: str) -> None:
    """Note that a release arrived whole on ``index`` (pushed there in one go): its jobs
    need not wait for more of its files."""
    conn.execute(
        "INSERT OR IGNORE INTO complete (ix, project, version, recorded) VALUES (?, ?, ?, ?)",
        (index, project, version, time.time()),
    )


def is_complete(conn: sqlite3.Connection, index: str, project: str, version: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM complete WHERE ix = ? AND project = ? AND version = ?",
        (index, project, version),
    ).fetchone()
    return row is not None


def release_filenames(conn: sqlite3.Connection, index: str, project: str, version: str) -> set[str]:
    """The files of one release on ``index`` that events were recorded for."""
    return {
        f
        for (f,) in conn.execute(
            "SELECT filename FROM events WHERE ix = ? AND project = ? AND version = ?",
            (index, project, version),
        )
    }


def get_event(conn: sqlite3.Connection, event_id: int) -> Event | None:
    row = conn.execute(
        "SELECT id, ix, project, version, filename, sha256, serial, source, recorded "
        "FROM events WHERE id = ?",
        (event_id,),
    ).fetchone()
    return Event(*row) if row else None
