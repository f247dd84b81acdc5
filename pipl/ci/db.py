"""The jobs table: one job per (release or file, handler), and its states.

States: ``queued`` -> ``running`` -> ``passed`` | ``failed``; ``cancelled`` by a user or
when a gate before it did not pass. A job whose runner died while it ran goes back to
``queued``. Jobs are unique on (index, project, version, handler, key), so recording the
same event twice, or twice over a crash, makes no second job.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipl.ci import database, outbox
from pipl.errors import UsageError
from pipl.text import shorten

QUEUED, RUNNING, PASSED, FAILED, CANCELLED = "queued", "running", "passed", "failed", "cancelled"
STATES = (QUEUED, RUNNING, PASSED, FAILED, CANCELLED)
DONE = (PASSED, FAILED, CANCELLED)

COLUMNS = (
    "id, handler, rank, ix, project, version, key, event_id, filename, sha256, state, "
    "attempts, not_before, created, started, finished, runner_pid, child_pid, message, reason"
)


@dataclass(frozen=True)
class Job:
    id: int
    handler: str
    rank: int
    index: str
    project: str
    version: str
    key: str
    event_id: int
    filename: str
    sha256: str
    state: str
    attempts: int
    not_before: float
    created: float
    started: float | None
    finished: float | None
    runner_pid: int | None
    child_pid: int | None
    message: str
    reason: str = ""  # why it runs, when not for its release's own upload

    @property
    def release(self) -> str:
        return f"{self.project} {self.version}"

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = self.seconds
        return data


def open_db(project_root: Path, *, migrate: bool = True) -> database.Connection:
    """The project's CI database (``pipl.ci.database``); ``with open_db(root) as conn:``
    closes it at the end of the block. ``migrate=False``: never change its schema."""
    return database.connect(outbox.ci_dir(project_root), migrate=migrate)


def migrate(project_root: Path) -> list[database.Migration]:
    """Bring the project's CI database up to date now (the runner and the web server call
    this as they start, so that their requests find it so); the migrations applied."""
    return database.upgrade(outbox.ci_dir(project_root))


def _job(row: tuple[Any, ...]) -> Job:
    return Job(*row)


def add_job(
    conn: sqlite3.Connection,
    *,
    handler: str,
    rank: int,
    event: outbox.Event,
    key: str,
    delay: float = 0.0,
    reason: str = "",
) -> bool:
    """Queue a job (to start ``delay`` seconds from now at the earliest) unless the same
    one exists; True when queued.

    The existing one is looked for first, in the same statement: an ``INSERT OR IGNORE``
    that ignores still uses up an id (AUTOINCREMENT), and ``pipl ci list`` would show
    gaps whose ids ``pipl ci show`` cannot find. ``OR IGNORE`` stays as a guard."""
    now = time.time()
    cur = conn.execute(
        "INSERT OR IGNORE INTO jobs (handler, rank, ix, project, version, key, event_id, "
        "filename, sha256, created, not_before, reason) "
        "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM jobs "
        "WHERE ix = ? AND project = ? AND version = ? AND handler = ? AND key = ?)",
        (
            handler,
            rank,
            event.index,
            event.project,
            event.version,
            key,
            event.id,
            event.filename,
            event.sha256,
            now,
            now + delay,
            shorten(reason, 500),
            event.index,
            event.project,
            event.version,
            handler,
            key,
        ),
    )
    return cur.rowcount == 1


def end_settle(conn: sqlite3.Connection, index: str, project: str, version: str) -> int:
    """Let the release's per-release jobs that still wait for their first start (its
    files are all there) start now; return how many."""
    now = time.time()
    cur = conn.execute(
        "UPDATE jobs SET not_before = ? WHERE ix = ? AND project = ? AND version = ? "
        "AND key = '' AND state = 'queued' AND attempts = 0 AND started IS NULL "
        "AND not_before > ?",
        (now, index, project, version, now),
    )
    return cur.rowcount


def get_job(conn: sqlite3.Connection, job_id: int) -> Job:
    row = conn.execute(f"SELECT {COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()  # noqa: S608 - column list is a constant
    if row is None:
        raise UsageError(f"no CI job {job_id}: see 'pipl ci list'")
    return _job(row)


def list_jobs(
    conn: sqlite3.Connection,
    *,
    state: str | list[str] | None = None,
    project: str | None = None,
    index: str | None = None,
    handler: str | None = None,
    indexes: list[str] | None = None,
    before: int | None = None,
    after: int | None = None,
    limit: int = 50,
    newest_first: bool = False,
) -> list[Job]:
    """Jobs matching every filter given: the newest ``limit`` of them (with ``after``, the
    oldest ``limit`` above that id), oldest first unless ``newest_first``. ``indexes``
    keeps only jobs of those indexes (the ones a caller may read)."""
    clause, args = _where(
        state=state, project=project, index=index, handler=handler, indexes=indexes
    )
    if before is not None:
        clause.append("id < ?")
        args.append(before)
    if after is not None:
        clause.append("id > ?")
        args.append(after)
    where = f"WHERE {' AND '.join(clause)}" if clause else ""
    order = "ASC" if after is not None and before is None else "DESC"
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM jobs {where} ORDER BY id {order} LIMIT ?",  # noqa: S608 - clause built from constants
        (*args, max(0, limit)),
    ).fetchall()
    jobs = sorted((_job(r) for r in rows), key=lambda j: j.id, reverse=newest_first)
    return jobs


def _where(
    *,
    state: str | list[str] | None = None,
    project: str | None = None,
    index: str | None = None,
    handler: str | None = None,
    indexes: list[str] | None = None,
) -> tuple[list[str], list[object]]:
    """The WHERE terms (and their arguments) of the jobs' filters."""
    where: list[str] = []
    args: list[object] = []
    states = [state] if isinstance(state, str) else list(state or [])
    for one in states:
        if one not in STATES:
            raise UsageError(f"unknown state {one!r}: choose from {', '.join(STATES)}")
    if states:
        where.append(f"state IN ({', '.join('?' * len(states))})")
        args.extend(states)
    for column, value in (("project", project), ("ix", index), ("handler", handler)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    if indexes is not None:
        where.append(f"ix IN ({', '.join('?' * len(indexes)) or 'NULL'})")
        args.extend(indexes)
    return where, args


def job_indexes(conn: sqlite3.Connection) -> list[str]:
    """Every index some job ran on."""
    return [ix for (ix,) in conn.execute("SELECT DISTINCT ix FROM jobs ORDER BY ix")]


def job_handlers(conn: sqlite3.Connection) -> list[str]:
    """Every handler some job ran."""
    return [h for (h,) in conn.execute("SELECT DISTINCT handler FROM jobs ORDER BY handler")]


def release_jobs(conn: sqlite3.Connection, index: str, project: str, version: str) -> list[Job]:
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM jobs WHERE ix = ? AND project = ? AND version = ? ORDER BY id",  # noqa: S608 - constant columns
        (index, project, version),
    ).fetchall()
    return [_job(r) for r in rows]


def handler_state(conn: sqlite3.Connection, handler: str, project: str, version: str) -> str:
    """How ``handler`` went for this release on any index: ``passed`` if one job passed,
    else ``pending`` while one is queued or running, else ``failed``; ``""`` if none ran."""
    states = {
        s
        for (s,) in conn.execute(
            "SELECT state FROM jobs WHERE handler = ? AND project = ? AND version = ?",
            (handler, project, version),
        )
    }
    if PASSED in states:
        return PASSED
    if states & {QUEUED, RUNNING}:
        return "pending"
    return FAILED if states else ""


def claim_next(conn: sqlite3.Connection, runner_pid: int) -> Job | None:
    """Take the oldest runnable job: queued, due, no job of a lower rank of the same
    release on the same index still queued or running, and, for a re-processing (a job
    with a reason), no job of its handler on that release running."""
    now = time.time()
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(
            f"SELECT {COLUMNS} FROM jobs AS j WHERE state = 'queued' AND not_before <= ? "  # noqa: S608 - constant columns
            "AND NOT EXISTS (SELECT 1 FROM jobs AS o WHERE o.ix = j.ix "
            "AND o.project = j.project AND o.version = j.version AND o.rank < j.rank "
            "AND o.rank > 0 AND o.state IN ('queued', 'running')) "
            "AND (j.reason = '' OR NOT EXISTS (SELECT 1 FROM jobs AS r WHERE r.ix = j.ix "
            "AND r.project = j.project AND r.version = j.version AND r.handler = j.handler "
            "AND r.state = 'running')) "
            "ORDER BY id LIMIT 1",
            (now,),
        ).fetchone()
        if row is None:
            conn.execute("COMMIT")
            return None
        conn.execute(
            "UPDATE jobs SET state = 'running', started = ?, finished = NULL, "
            "attempts = attempts + 1, runner_pid = ?, child_pid = NULL, message = '' "
            "WHERE id = ?",
            (now, runner_pid, row[0]),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return get_job(conn, row[0])


def set_child(conn: sqlite3.Connection, job_id: int, pid: int | None) -> None:
    conn.execute("UPDATE jobs SET child_pid = ? WHERE id = ?", (pid, job_id))


def finish(conn: sqlite3.Connection, job_id: int, state: str, message: str) -> bool:
    """Record a running job's end; False if it is no longer running (cancelled)."""
    cur = conn.execute(
        "UPDATE jobs SET state = ?, finished = ?, message = ?, child_pid = NULL "
        "WHERE id = ? AND state = 'running'",
        (state, time.time(), shorten(message, 2000), job_id),
    )
    return cur.rowcount == 1


def requeue(
    conn: sqlite3.Connection, job_id: int, delay: float, message: str, *, count: bool = True
) -> None:
    """Queue a running job again after ``delay``; ``count=False`` forgets this attempt."""
    conn.execute(
        "UPDATE jobs SET state = 'queued', not_before = ?, message = ?, child_pid = NULL, "
        "attempts = attempts - ? WHERE id = ? AND state = 'running'",
        (time.time() + delay, shorten(message, 2000), 0 if count else 1, job_id),
    )


def cancel(conn: sqlite3.Connection, job_id: int, reason: str = "cancelled by a user") -> Job:
    job = get_job(conn, job_id)
    if job.state in DONE:
        raise UsageError(f"CI job {job_id} is {job.state} already: nothing to cancel")
    conn.execute(
        "UPDATE jobs SET state = 'cancelled', finished = ?, message = ? "
        "WHERE id = ? AND state IN ('queued', 'running')",
        (time.time(), reason, job_id),
    )
    return get_job(conn, job_id)


def retry(conn: sqlite3.Connection, job_id: int) -> Job:
    job = get_job(conn, job_id)
    if job.state not in (FAILED, CANCELLED):
        raise UsageError(f"CI job {job_id} is {job.state}: only failed or cancelled jobs retry")
    conn.execute(
        "UPDATE jobs SET state = 'queued', not_before = 0, attempts = 0, started = NULL, "
        "finished = NULL, message = 'retried by a user' WHERE id = ?",
        (job_id,),
    )
    return get_job(conn, job_id)


def ended_since(conn: sqlite3.Connection, since: float) -> list[Job]:
    """The jobs that ended at ``since`` or later, in the order they ended."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM jobs WHERE finished >= ? ORDER BY finished, id",  # noqa: S608 - constant columns
        (since,),
    ).fetchall()
    return [_job(r) for r in rows]


def orphans(conn: sqlite3.Connection) -> list[Job]:
    rows = conn.execute(f"SELECT {COLUMNS} FROM jobs WHERE state = 'running'").fetchall()  # noqa: S608 - constant columns
    return [_job(r) for r in rows]


def counts(
    conn: sqlite3.Connection,
    *,
    project: str | None = None,
    index: str | None = None,
    handler: str | None = None,
    indexes: list[str] | None = None,
) -> dict[str, int]:
    """Jobs by state (every state, 0 for none), among those matching the filters."""
    clause, args = _where(project=project, index=index, handler=handler, indexes=indexes)
    where = f"WHERE {' AND '.join(clause)}" if clause else ""
    result = dict.fromkeys(STATES, 0)
    for state, n in conn.execute(
        f"SELECT state, COUNT(*) FROM jobs {where} GROUP BY state",  # noqa: S608 - clause built from constants
        args,
    ):
        result[state] = n
    return result


def name_jobs(conn: sqlite3.Connection, project: str, version: str) -> list[Job]:
    """The jobs of release ``project version`` on every index, oldest first."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM jobs WHERE project = ? AND version = ? ORDER BY id",  # noqa: S608 - constant columns
        (project, version),
    ).fetchall()
    return [_job(r) for r in rows]


def record_made(
    conn: sqlite3.Connection, job_id: int, index: str, project: str, version: str
) -> None:
    """Note that job ``job_id`` put release ``project version`` on ``index`` (a promotion
    or a product it published), so what an upload set going can be followed."""
    conn.execute(
        "INSERT OR IGNORE INTO made (job_id, ix, project, version) VALUES (?, ?, ?, ?)",
        (job_id, index, project, version),
    )


def made_by(conn: sqlite3.Connection, job_ids: list[int]) -> list[tuple[int, str, str, str]]:
    """(job id, index, project, version) of the releases these jobs put on an index."""
    if not job_ids:
        return []
    marks = ", ".join("?" * len(job_ids))
    return list(
        conn.execute(
            f"SELECT job_id, ix, project, version FROM made WHERE job_id IN ({marks}) "  # noqa: S608 - placeholders only
            "ORDER BY job_id",
            job_ids,
        )
    )
