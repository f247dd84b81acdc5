"""The tracking database (SQLite, ``PREFIX/pipe.sqlite``): runs, segments, instances.

It makes re-runs fast (one query tells which instances of a key are done and gives their
outputs) and answers ``pipl pipe status``. The folders are the truth: ``rebuild`` makes
the database again from them. Writes are batched: one transaction per result batch.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipl_pipe.segment.worker import Result

from pipl.pipe.store import instance_records, walk_segments

DB_NAME = "pipe.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, started REAL, finished REAL, executor TEXT, status TEXT,
    ran INTEGER DEFAULT 0, reused INTEGER DEFAULT 0, failed INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS segments (
    key TEXT PRIMARY KEY, name TEXT, path TEXT, parents TEXT, created REAL);
CREATE TABLE IF NOT EXISTS instances (
    key TEXT, name TEXT, ok INTEGER, output BLOB, started REAL, seconds REAL,
    run_id INTEGER, error TEXT, PRIMARY KEY (key, name)) WITHOUT ROWID;
"""


class TrackingDb:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> TrackingDb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # runs
    def start_run(self, executor: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO runs (started, executor, status) VALUES (?, ?, 'running')",
            (time.time(), executor),
        )
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, status: str, ran: int, reused: int, failed: int) -> None:
        self.conn.execute(
            "UPDATE runs SET finished=?, status=?, ran=?, reused=?, failed=? WHERE id=?",
            (time.time(), status, ran, reused, failed, run_id),
        )

    def runs(self, limit: int = 10) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT id, started, finished, executor, status, ran, reused, failed "
            "FROM runs ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    # segments and instances
    def add_segment(self, key: str, name: str, path: Path, parents: dict[str, str]) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO segments VALUES (?, ?, ?, ?, ?)",
            (key, name, str(path), json.dumps(parents), time.time()),
        )

    def segments(self) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT key, name, path, parents, created FROM segments")
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def done(self, key: str) -> dict[str, list[Any]]:
        """Outputs of the instances of ``key`` that finished well, by instance name."""
        cur = self.conn.execute("SELECT name, output FROM instances WHERE key=? AND ok=1", (key,))
        return {name: pickle.loads(blob) for name, blob in cur}  # noqa: S301  # our own rows

    def record(self, key: str, results: Iterable[Result], run_id: int | None) -> None:
        rows = [
            (
                key,
                r.name,
                int(r.ok),
                pickle.dumps(r.output, protocol=pickle.HIGHEST_PROTOCOL),
                r.started,
                r.seconds,
                run_id,
                r.error,
            )
            for r in results
        ]
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany("INSERT OR REPLACE INTO instances VALUES (?,?,?,?,?,?,?,?)", rows)

    def counts(self, key: str) -> dict[str, int]:
        cur = self.conn.execute(
            "SELECT ok, COUNT(*) FROM instances WHERE key=? GROUP BY ok", (key,)
        )
        found = {bool(ok): n for ok, n in cur}
        return {"done": found.get(True, 0), "failed": found.get(False, 0)}

    def failures(self, key: str, limit: int = 5) -> list[tuple[str, str]]:
        cur = self.conn.execute(
            "SELECT name, error FROM instances WHERE key=? AND ok=0 LIMIT ?", (key, limit)
        )
        return [(n, e) for n, e in cur]

    def forget(self, keys: Iterable[str]) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            for key in keys:
                self.conn.execute("DELETE FROM instances WHERE key=?", (key,))
                self.conn.execute("DELETE FROM segments WHERE key=?", (key,))


def open_db(prefix: Path) -> TrackingDb:
    prefix.mkdir(parents=True, exist_ok=True)
    return TrackingDb(prefix / DB_NAME)


def rebuild(prefix: Path) -> dict[str, int]:
    """Make the database again from the folders (runs are lost; instances keep their
    timings). Returns how many segments and instances were found."""
    path = prefix / DB_NAME
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    segments = instances = 0
    with open_db(prefix) as db:
        for found in walk_segments(prefix):
            meta = found.meta
            db.add_segment(meta["key"], meta["name"], found.root, meta.get("parents", {}))
            segments += 1
            batch: list[Result] = []
            for rec in instance_records(found.root):
                batch.append(
                    Result(
                        rec["name"],
                        bool(rec["ok"]),
                        rec["output"],
                        rec["started"],
                        rec["seconds"],
                        rec["error"],
                    )
                )
                if len(batch) >= 5000:
                    db.record(meta["key"], batch, None)
                    instances += len(batch)
                    batch = []
            db.record(meta["key"], batch, None)
            instances += len(batch)
    return {"segments": segments, "instances": instances}
