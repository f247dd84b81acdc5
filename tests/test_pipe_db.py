"""The tracking database's schema has a version: a database from before versions keeps
its rows and is migrated once; a current one opens with no schema statement; a newer one
is refused with one line."""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

import pytest

from pipl.errors import PipelineError
from pipl.pipe import db as pipe_db
from pipl.pipe.db import DB_NAME, VERSION, TrackingDb

# the first release of the schema, as a pipl without versions made it
OLD = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, started REAL, finished REAL, executor TEXT, status TEXT,
    ran INTEGER DEFAULT 0, reused INTEGER DEFAULT 0, failed INTEGER DEFAULT 0);
CREATE TABLE segments (key TEXT PRIMARY KEY, name TEXT, path TEXT, parents TEXT, created REAL);
CREATE TABLE instances (
    key TEXT, name TEXT, ok INTEGER, output BLOB, started REAL, seconds REAL,
    run_id INTEGER, error TEXT, PRIMARY KEY (key, name)) WITHOUT ROWID;
CREATE TABLE tags (key TEXT, name TEXT, tag TEXT, PRIMARY KEY (key, name, tag)) WITHOUT ROWID;
INSERT INTO runs (id, started, executor, status) VALUES (1, 1.0, 'local', 'done');
INSERT INTO segments VALUES ('k1', 'melt', '/data/melt_k1', '{}', 1.0);
INSERT INTO tags VALUES ('k1', 'a', 'good');
"""


def _statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement the tracking database's connections run from now on."""
    seen: list[str] = []
    connect = sqlite3.connect

    def traced(*args: object, **kwargs: object) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)  # type: ignore[arg-type]
        conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(pipe_db.sqlite3, "connect", traced)
    return seen


def test_an_old_database_is_migrated_once_and_keeps_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / DB_NAME
    old = sqlite3.connect(path)
    old.executescript(OLD)
    old.execute(
        "INSERT INTO instances VALUES ('k1', 'a', 1, ?, 1.0, 0.5, 1, '')", (pickle.dumps([7]),)
    )
    old.commit()
    old.close()
    with TrackingDb(path) as db:
        assert db.conn.execute("PRAGMA user_version").fetchone()[0] == VERSION
        assert db.done("k1") == {"a": [7]}
        assert db.all_tags() == [("k1", "a", "good")]
        columns = {row[1] for row in db.conn.execute("PRAGMA table_info(instances)")}
        assert {"input", "attempts"} <= columns
    seen = _statements(monkeypatch)
    with TrackingDb(path) as db:
        assert db.done("k1") == {"a": [7]}
    schema = [s for s in seen if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP"))]
    assert schema == [] and not any("table_info" in s for s in seen), seen


def test_a_database_of_a_newer_pipl_is_refused(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    newer = sqlite3.connect(path)
    newer.execute(f"PRAGMA user_version = {VERSION + 1}")
    newer.close()
    with pytest.raises(PipelineError, match="written by a newer pipl") as caught:
        TrackingDb(path)
    assert "\n" not in str(caught.value)
