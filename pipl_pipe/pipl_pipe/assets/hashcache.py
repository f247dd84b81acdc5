"""Remembered sha256 of local files, keyed by what ``stat`` says about them.

Re-adding a 1 GiB file that has not changed (same path, inode, size and mtime) costs one
``stat`` and one SQLite lookup instead of reading the file again. Threads of one store
share it (a store may add a folder's files side by side).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path


def default_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pipl" / "hashes.sqlite"


class HashCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one statement at a time on the shared connection

    def _conn(self) -> sqlite3.Connection | None:
        with self._lock:
            return self._open()

    def _open(self) -> sqlite3.Connection | None:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(
                    self.path, timeout=10, isolation_level=None, check_same_thread=False
                )
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, "
                    "dev INT, ino INT, size INT, mtime INT, sha256 TEXT)"
                )
            except (OSError, sqlite3.Error):
                return None  # a cache, never a reason to fail
            self._db = db
        return self._db

    def get(self, path: Path, st: os.stat_result) -> str | None:
        db = self._conn()
        if db is None:
            return None
        try:
            with self._lock:
                row = db.execute(
                    "SELECT dev, ino, size, mtime, sha256 FROM hashes WHERE path = ?", (str(path),)
                ).fetchone()
        except sqlite3.Error:
            return None
        if row and tuple(row[:4]) == (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns):
            return str(row[4])
        return None

    def put(self, path: Path, st: os.stat_result, sha256: str) -> None:
        db = self._conn()
        if db is None:
            return
        with contextlib.suppress(sqlite3.Error), self._lock:
            db.execute(
                "INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?, ?)",
                (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, sha256),
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
