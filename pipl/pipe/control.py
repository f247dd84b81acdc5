"""Control of a running run from outside it: the run lock and cancelling.

The run lock (``PREFIX/run.lock``, an ``flock``) is held by the run and inherited by its
worker processes: while one of them lives, no second run starts on the same data, even
when the run itself was killed. (The same file is what ``pipl.fsutil.locked(PREFIX /
"run")`` takes, so a run started from the dashboard sees it too.)

Cancelling writes a request into the run's row of the tracking database (status
``cancelling``); the run watches its row from a thread, stops its workers, keeps what
finished and records itself ``cancelled``. Any process that can write the database can
cancel: another terminal, the dashboard, the API.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipl.errors import NotFound, PipelineBusy
from pipl.pipe.db import DB_NAME, TrackingDb, open_db

LOCK = "run.lock"
WATCH_EVERY = 0.25  # seconds between looks at the run's row
ACTIVE = ("queued", "running", "cancelling")


@contextlib.contextmanager
def run_lock(prefix: Path, timeout: float = 1.0) -> Iterator[int]:
    """Hold the run lock of ``prefix``; yields its descriptor (for workers to inherit).
    Raises ``PipelineBusy`` when another run (or a worker of one) holds it."""
    fd = os.open(prefix / LOCK, os.O_RDWR | os.O_CREAT, 0o664)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise PipelineBusy(
                        f"another run is using {prefix}: wait for it to finish "
                        "(or stop it: pipl pipe cancel)"
                    ) from None
                time.sleep(0.05)
        yield fd
    finally:
        os.close(fd)  # workers still alive keep the lock until they end


def lock_is_free(prefix: Path) -> bool:
    """Whether no run (and no worker of one) holds the run lock of ``prefix`` now."""
    try:
        with run_lock(prefix, timeout=0):
            return True
    except PipelineBusy:
        return False


class CancelWatch:
    """A thread that sets ``stop`` when run ``run_id`` is asked to cancel."""

    def __init__(self, prefix: Path, run_id: int, stop: threading.Event) -> None:
        self.path = prefix / DB_NAME
        self.run_id = run_id
        self.stop = stop
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, name=f"cancel-{run_id}", daemon=True)

    def __enter__(self) -> CancelWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    def _watch(self) -> None:
        with TrackingDb(self.path) as db:
            while not self.done.wait(WATCH_EVERY):
                row = db.conn.execute("SELECT status FROM runs WHERE id=?", (self.run_id,))
                found = row.fetchone()
                if found is not None and found[0] == "cancelling":
                    self.stop.set()
                    return


def request_cancel(prefix: Path, run_id: int | None = None) -> dict[str, Any]:
    """Ask the active run of ``prefix`` (or run ``run_id``) to stop; its row afterwards.

    A queued run is cancelled at once (it will not start); a running one is marked
    ``cancelling`` and records itself ``cancelled`` when its workers are stopped; a run
    still marked running whose process is gone (nothing holds the lock) is closed as
    ``cancelled`` here."""
    with open_db(prefix) as db:
        row = db.active_run(run_id)
        if row is None:
            which = f"run {run_id}" if run_id is not None else "no run"
            raise NotFound(
                f"{which} of pipeline data {prefix.name} is queued or running: "
                "nothing to cancel (see pipl pipe status)",
                status=404,
            )
        run = int(row["id"])
        if row["status"] == "queued":
            db.set_status(run, "cancelled", "cancelled before it started", only_if="queued")
        elif lock_is_free(prefix):
            db.set_status(run, "cancelled", "its process had ended without recording it")
        elif row["status"] == "running":
            db.set_status(run, "cancelling", "cancel requested", only_if="running")
        found = db.run_record(run)
    assert found is not None  # the row was there a moment ago
    return found


def wait_ended(prefix: Path, run_id: int, timeout: float) -> dict[str, Any]:
    """Run ``run_id``'s row once it is no longer active, or as it is after ``timeout``."""
    deadline = time.monotonic() + timeout
    with open_db(prefix) as db:
        while True:
            row = db.run_record(run_id)
            assert row is not None
            if row["status"] not in ACTIVE or time.monotonic() >= deadline:
                return row
            time.sleep(0.1)
