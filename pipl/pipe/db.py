"""The tracking database (SQLite, ``PREFIX/pipe.sqlite``): runs, segments, instances, tags,
and which parent instances each instance used (``uses``: what deleting with dependents
follows).

It makes re-runs fast (one query tells which instances of a key are done and gives their
outputs) and answers ``pipl pipe status`` and the dashboard. The folders are the truth:
``rebuild`` makes the database again from them (keeping the tags, which only it holds).
Writes are batched: one transaction per result batch. The schema has a version
(``PRAGMA user_version``): a database at ``VERSION`` opens without any schema statement,
an older one is migrated once, a newer one is refused.
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

from pipl.errors import PipelineError
from pipl.fsutil import locked
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
CREATE TABLE IF NOT EXISTS tags (
    key TEXT, name TEXT, tag TEXT, PRIMARY KEY (key, name, tag)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_tag ON tags (tag, key, name);
CREATE INDEX IF NOT EXISTS segments_name ON segments (name, created);
CREATE TABLE IF NOT EXISTS uses (
    parent_key TEXT, parent_name TEXT, key TEXT, name TEXT,
    PRIMARY KEY (parent_key, parent_name, key, name)) WITHOUT ROWID;
"""
# columns added after the first release of the schema: (table, column, declaration)
ADDED = (
    ("instances", "input", "TEXT DEFAULT ''"),
    ("runs", "message", "TEXT DEFAULT ''"),
    ("segments", "inputs", "TEXT DEFAULT ''"),  # key_inputs digests, as JSON
    ("segments", "used", "REAL"),  # when a run last recorded the segment
    ("runs", "revision", "TEXT DEFAULT ''"),
    ("instances", "attempts", "INTEGER DEFAULT 1"),
)
# made after ADDED (they use its columns)
LATE_SCHEMA = """
CREATE INDEX IF NOT EXISTS instances_status ON instances (key, ok, name);
"""
# the schema's version (PRAGMA user_version): a database at it opens without any schema
# statement; an older one (0: from before versions) is migrated once. Raise it with every
# change of SCHEMA, ADDED or LATE_SCHEMA.
VERSION = 1
CURRENT_COLUMNS: dict[str, set[str]] = {
    "runs": {"id", "started", "finished", "executor", "status", "ran", "reused", "failed"},
    "segments": {"key", "name", "path", "parents", "created"},
    "instances": {"key", "name", "ok", "output", "started", "seconds", "run_id", "error"},
}
for _table, _column, _ in ADDED:
    CURRENT_COLUMNS[_table].add(_column)
INPUT_CHARS = 300  # an instance's input is kept as JSON text cut to this length


def input_text(value: Any) -> str:
    """An instance's input as short JSON text (what the dashboard shows as its parameters)."""
    text = json.dumps(value, default=repr, sort_keys=True)
    return text if len(text) <= INPUT_CHARS else text[: INPUT_CHARS - 3] + "..."


class TrackingDb:
    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        """``readonly``: open an existing database only to read it (a dry run): its schema
        is left as it is, so readers allow for columns an older pipl did not make."""
        self.path = path
        if readonly:
            # without a write-ahead log (no run writing), read the file as immutable: a
            # reader would otherwise leave -wal and -shm files beside it
            wal = Path(f"{path}-wal").exists()
            mode = "mode=ro" if wal else "mode=ro&immutable=1"
            self.conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?{mode}", uri=True, isolation_level=None, timeout=30
            )
            self.columns = self._columns()
            return
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        if self._version() != VERSION:
            self._migrate()
        self.columns = CURRENT_COLUMNS

    def _version(self) -> int:
        version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        if version > VERSION:
            self.conn.close()
            raise PipelineError(
                f"{self.path} was written by a newer pipl (schema version {version}, this "
                f"pipl knows {VERSION}): upgrade pipl to use it"
            )
        return version

    def _migrate(self) -> None:
        """Bring the schema to ``VERSION``, once (under a lock: runs and the dashboard may
        open it at once): the tables, the columns added since, the late indexes. A
        database from before versions (0) keeps every row."""
        with locked(Path(f"{self.path}.migrate")):
            if self._version() == VERSION:
                return
            self.conn.executescript(SCHEMA)
            for table, column, declaration in ADDED:
                have = {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            self.conn.executescript(LATE_SCHEMA)
            self.conn.execute(f"PRAGMA user_version = {VERSION}")

    def _columns(self) -> dict[str, set[str]]:
        return {
            table: {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}
            for table in ("runs", "segments", "instances")
        }

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> TrackingDb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # runs
    def start_run(self, executor: str, status: str = "running") -> int:
        cur = self.conn.execute(
            "INSERT INTO runs (started, executor, status) VALUES (?, ?, ?)",
            (time.time(), executor, status),
        )
        return int(cur.lastrowid or 0)

    def claim_run(self, run_id: int, executor: str) -> bool:
        """A run queued by ``start_run(..., status="queued")`` starts now; False when it
        is no longer queued (it was cancelled before it started)."""
        cur = self.conn.execute(
            "UPDATE runs SET started=?, executor=?, status='running' "
            "WHERE id=? AND status='queued'",
            (time.time(), executor, run_id),
        )
        return cur.rowcount > 0

    def close_stale_runs(self) -> int:
        """Runs still marked running whose process is gone (the caller holds the run
        lock, so none can be running) end as interrupted; how many."""
        cur = self.conn.execute(
            "UPDATE runs SET status='interrupted', finished=?, "
            "message='its process ended without recording it' "
            "WHERE status IN ('running', 'cancelling')",
            (time.time(),),
        )
        return cur.rowcount

    def active_run(self, run_id: int | None = None) -> dict[str, Any] | None:
        """The newest run queued, running or being cancelled (or ``run_id`` if it is)."""
        query = "SELECT id FROM runs WHERE status IN ('queued', 'running', 'cancelling')"
        args: tuple[int, ...] = ()
        if run_id is not None:
            query += " AND id=?"
            args = (run_id,)
        row = self.conn.execute(query + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return self.run_record(int(row[0])) if row else None

    def set_status(
        self, run_id: int, status: str, message: str, *, only_if: str | None = None
    ) -> bool:
        """Change run ``run_id``'s status (only from ``only_if``, when given); whether it
        changed. An ending status also sets the run's end time."""
        query = "UPDATE runs SET status=?, message=?"
        args: list[Any] = [status, message]
        if status not in ("queued", "running", "cancelling"):
            query += ", finished=?"
            args.append(time.time())
        query += " WHERE id=?"
        args.append(run_id)
        if only_if is not None:
            query += " AND status=?"
            args.append(only_if)
        return self.conn.execute(query, args).rowcount > 0

    def progress(self, run_id: int, ran: int = 0, reused: int = 0, failed: int = 0) -> None:
        """Count instances of a run as it goes (``finish_run`` sets the totals)."""
        self.conn.execute(
            "UPDATE runs SET ran=ran+?, reused=reused+?, failed=failed+? WHERE id=?",
            (ran, reused, failed, run_id),
        )

    def finish_run(
        self, run_id: int, status: str, ran: int, reused: int, failed: int, message: str = ""
    ) -> None:
        self.conn.execute(
            "UPDATE runs SET finished=?, status=?, ran=?, reused=?, failed=?, message=? WHERE id=?",
            (time.time(), status, ran, reused, failed, message, run_id),
        )

    def set_revision(self, run_id: int, revision: str) -> None:
        """Record the version control revision of the code run ``run_id`` runs."""
        self.conn.execute("UPDATE runs SET revision=? WHERE id=?", (revision, run_id))

    def revisions(self, run_ids: Iterable[int]) -> dict[int, str]:
        """The recorded code revision of each of ``run_ids`` that has one."""
        wanted = sorted({int(r) for r in run_ids})[:500]
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        cur = self.conn.execute(
            f"SELECT id, revision FROM runs WHERE id IN ({marks}) AND revision != ''",  # noqa: S608 - placeholders only
            wanted,
        )
        return {int(i): str(r) for i, r in cur}

    def runs(self, limit: int = 10) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT id, started, finished, executor, status, ran, reused, failed, revision "
            "FROM runs ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def run_record(self, run_id: int) -> dict[str, Any] | None:
        """Run ``run_id`` with its message (why it ended as it did), or None."""
        cur = self.conn.execute(
            "SELECT id, started, finished, executor, status, ran, reused, failed, message, "
            "revision FROM runs WHERE id=?",
            (run_id,),
        )
        row = cur.fetchone()
        cols = [c[0] for c in cur.description]
        return dict(zip(cols, row, strict=True)) if row else None

    # segments and instances
    def add_segment(
        self,
        key: str,
        name: str,
        path: Path,
        parents: dict[str, str],
        inputs: dict[str, str] | None = None,
        used: float | None = None,
    ) -> None:
        """Record segment ``key`` (once) and mark it as the one a run used last, with the
        digests of its key's inputs (``key_inputs``) for a later dry run to compare."""
        now = time.time() if used is None else used
        self.conn.execute(
            "INSERT OR IGNORE INTO segments (key, name, path, parents, created) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, name, str(path), json.dumps(parents), now),
        )
        if inputs is not None:
            self.conn.execute(
                "UPDATE segments SET used=?, inputs=? WHERE key=?",
                (now, json.dumps(inputs), key),
            )
        else:
            self.conn.execute("UPDATE segments SET used=? WHERE key=?", (now, key))

    def last_used(self, name: str) -> tuple[str, dict[str, str] | None] | None:
        """The key a run last recorded for segment ``name`` and the digests of its inputs
        (None when that run's pipl kept none), or None when no run recorded it."""
        have = self.columns["segments"]
        order = "COALESCE(used, created)" if "used" in have else "created"
        inputs = "inputs" if "inputs" in have else "''"
        row = self.conn.execute(
            f"SELECT key, {inputs} FROM segments WHERE name=? "  # noqa: S608 - column names only
            f"ORDER BY {order} DESC, rowid DESC LIMIT 1",
            (name,),
        ).fetchone()
        if row is None:
            return None
        return str(row[0]), (json.loads(row[1]) if row[1] else None)

    def failed_names(self, key: str) -> set[str]:
        """The instances of ``key`` that failed."""
        cur = self.conn.execute("SELECT name FROM instances WHERE key=? AND ok=0", (key,))
        return {name for (name,) in cur}

    def segments(self) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT key, name, path, parents, created FROM segments")
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def done(self, key: str) -> dict[str, list[Any]]:
        """Outputs of the instances of ``key`` that finished well, by instance name."""
        cur = self.conn.execute("SELECT name, output FROM instances WHERE key=? AND ok=1", (key,))
        return {name: pickle.loads(blob) for name, blob in cur}  # noqa: S301  # our own rows

    def record(
        self,
        key: str,
        results: Iterable[Result],
        run_id: int | None,
        inputs: dict[str, str] | None = None,
        parents: dict[str, dict[str, list[str]]] | None = None,
        parent_keys: dict[str, str] | None = None,
        attempts: int = 1,
    ) -> None:
        """Record ended instances; ``inputs`` gives their inputs as ``input_text``,
        ``parents`` the parent instance folders each used (``Task.parent_dirs``), by parent
        segment, whose keys ``parent_keys`` gives; ``attempts``: how many times they ran
        in this run (retries)."""
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
                (inputs or {}).get(r.name, ""),
                attempts,
            )
            for r in results
        ]
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany(
                "INSERT OR REPLACE INTO instances (key, name, ok, output, started, seconds, "
                "run_id, error, input, attempts) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            if parents and parent_keys:
                # an instance's name derives from the parent instances that feed it, so a
                # re-run of (key, name) used the same ones: nothing to replace
                names = [r.name for r in results if r.name in parents]
                self.conn.executemany(
                    "INSERT OR IGNORE INTO uses VALUES (?, ?, ?, ?)",
                    [
                        (parent_keys[seg], folder.rsplit("/", 1)[-1], key, name)
                        for name in names
                        for seg, folders in parents[name].items()
                        if seg in parent_keys
                        for folder in folders
                    ],
                )

    def counts(self, key: str) -> dict[str, int]:
        # two counts over the (key, ok, name) index: much faster than a GROUP BY
        found = [
            self.conn.execute(
                "SELECT COUNT(*) FROM instances WHERE key=? AND ok=?", (key, ok)
            ).fetchone()[0]
            for ok in (1, 0)
        ]
        return {"done": int(found[0]), "failed": int(found[1])}

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
                self.conn.execute("DELETE FROM tags WHERE key=?", (key,))
                self.conn.execute("DELETE FROM uses WHERE key=?", (key,))

    def forget_instance(self, key: str, name: str) -> bool:
        """Forget one instance (and its tags): the next run computes it again. True when
        it was recorded."""
        with self.conn:
            self.conn.execute("BEGIN")
            cur = self.conn.execute("DELETE FROM instances WHERE key=? AND name=?", (key, name))
            self.conn.execute("DELETE FROM tags WHERE key=? AND name=?", (key, name))
        # its rows in ``uses`` stay: ``users_of`` joins them with the recorded instances,
        # and the instance computed again uses the same parents (its name says which)
        return cur.rowcount > 0

    def users_of(self, key: str, name: str) -> list[tuple[str, str]]:
        """The ``(key, name)`` of the recorded instances that used instance ``name`` of
        ``key`` as an input (its direct dependents)."""
        cur = self.conn.execute(
            "SELECT u.key, u.name FROM uses u JOIN instances i ON i.key=u.key AND i.name=u.name "
            "WHERE u.parent_key=? AND u.parent_name=? ORDER BY u.key, u.name",
            (key, name),
        )
        return [(k, n) for k, n in cur]

    # tags: labels users put on instances (kept only here: rebuild carries them over)
    def tag(self, key: str, name: str, tag: str) -> None:
        self.conn.execute("INSERT OR IGNORE INTO tags VALUES (?, ?, ?)", (key, name, tag))

    def untag(self, key: str, name: str, tag: str) -> bool:
        cur = self.conn.execute(
            "DELETE FROM tags WHERE key=? AND name=? AND tag=?", (key, name, tag)
        )
        return cur.rowcount > 0

    def tags(self, key: str, names: Iterable[str]) -> dict[str, list[str]]:
        """The tags of instances ``names`` of ``key``, by instance name."""
        wanted = list(names)
        found: dict[str, list[str]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            cur = self.conn.execute(
                f"SELECT name, tag FROM tags WHERE key=? AND name IN ({marks}) ORDER BY tag",  # noqa: S608 - placeholders only
                (key, *chunk),
            )
            for name, tag in cur:
                found.setdefault(name, []).append(tag)
        return found

    def all_tags(self) -> list[tuple[str, str, str]]:
        return list(self.conn.execute("SELECT key, name, tag FROM tags"))


def open_db(prefix: Path) -> TrackingDb:
    prefix.mkdir(parents=True, exist_ok=True)
    return TrackingDb(prefix / DB_NAME)


def read_db(prefix: Path) -> TrackingDb | None:
    """The tracking database opened to read only, or None when there is none yet."""
    path = prefix / DB_NAME
    return TrackingDb(path, readonly=True) if path.is_file() else None


def rebuild(prefix: Path) -> dict[str, int]:
    """Make the database again from the folders (runs are lost; instances keep their
    timings). Returns how many segments and instances were found."""
    path = prefix / DB_NAME
    tags: list[tuple[str, str, str]] = []
    if path.exists():
        with TrackingDb(path) as old:
            tags = old.all_tags()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    segments = instances = 0
    with open_db(prefix) as db:
        for found in walk_segments(prefix):
            meta = found.meta
            db.add_segment(
                meta["key"],
                meta["name"],
                found.root,
                meta.get("parents", {}),
                meta.get("inputs"),
                used=meta.get("created"),
            )
            segments += 1
            batch: list[Result] = []
            inputs: dict[str, str] = {}
            parents: dict[str, dict[str, list[str]]] = {}
            parent_keys = dict(meta.get("parents", {}))
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
                inputs[rec["name"]] = input_text(rec.get("input"))
                parents[rec["name"]] = dict(rec.get("parents") or {})
                if len(batch) >= 5000:
                    db.record(meta["key"], batch, None, inputs, parents, parent_keys)
                    instances += len(batch)
                    batch, inputs, parents = [], {}, {}
            db.record(meta["key"], batch, None, inputs, parents, parent_keys)
            instances += len(batch)
        recorded = {(k, n) for k, n, _ in tags}
        if recorded:
            have = {
                (k, n)
                for k, n in db.conn.execute("SELECT key, name FROM instances")
                if (k, n) in recorded
            }
            for key, name, tag in tags:
                if (key, name) in have:
                    db.tag(key, name, tag)
    return {"segments": segments, "instances": instances}
