"""Following CI from outside the runner: a job's log read by offsets, and everything one
release's upload set going (its jobs, the promotions to later stages and the jobs there,
the products its processing published and their jobs, the re-processings of the tasks
that depend on it, ``pipl.ci.downstream``, and so on from their products).

Both read the CI database and the log files only: a follower that goes away costs the
runner nothing.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from pipl.ci import db
from pipl.names import normalize_dist

LOG_CHUNK = 64 * 1024  # the most a read of a log answers at once


@dataclass(frozen=True)
class LogPart:
    """Part of a job's log: ``text`` from byte ``offset - len(text bytes)`` up to
    ``offset`` (where the next read starts); ``done`` once the job has ended and nothing
    is left to read."""

    text: str
    offset: int
    size: int  # the log's size in bytes when read
    state: str
    done: bool


def read_log(
    conn: sqlite3.Connection, path: Path, job_id: int, offset: int = 0, limit: int = LOG_CHUNK
) -> LogPart:
    """The log of job ``job_id`` (file ``path``) from byte ``offset``, at most ``limit``
    bytes, cut at a whole character."""
    job = db.get_job(conn, job_id)  # first: once a job has ended, its log is complete
    offset = max(0, offset)
    limit = max(1, min(limit, LOG_CHUNK))
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(min(offset, size))
            data = fh.read(limit)
    except FileNotFoundError:
        size, data = 0, b""
    text, used = _decode(data, final=offset + len(data) >= size and job.state in db.DONE)
    end = min(offset, size) + used
    return LogPart(text, end, size, job.state, job.state in db.DONE and end >= size)


def _decode(data: bytes, *, final: bool) -> tuple[str, int]:
    """``data`` as text, without a character cut at its end (unless ``final``), and how
    many bytes that used."""
    try:
        return data.decode(), len(data)
    except UnicodeDecodeError as exc:
        if not final and exc.reason == "unexpected end of data" and len(data) - exc.start < 4:
            return data[: exc.start].decode(errors="replace"), exc.start
        return data.decode(errors="replace"), len(data)


@dataclass(frozen=True)
class Reached:
    """A release some CI job put on an index (a promotion, a product), or the upload's."""

    index: str
    project: str
    version: str
    by_job: int | None  # the job that put it there (None: an upload)


@dataclass(frozen=True)
class Triggered:
    """What the upload of ``project version`` set going, as far as it has gone."""

    project: str
    version: str
    jobs: list[db.Job]
    releases: list[Reached]
    pending: int  # files uploaded or pushed whose jobs are not queued yet

    @property
    def finished(self) -> bool:
        return self.pending == 0 and all(j.state in db.DONE for j in self.jobs)


def triggered(conn: sqlite3.Connection, project: str, version: str) -> Triggered:
    """The jobs of release ``project version`` on every index and the re-processings it
    set going, and, following what those jobs recorded (``db.record_made``), the jobs of
    the releases they put elsewhere, transitively."""
    from pipl.ci.downstream import remade_for

    start = (normalize_dist(project), version)
    todo = [start]
    seen = {start}
    jobs: dict[int, db.Job] = {}
    reached: dict[tuple[str, str, str], Reached] = {}
    pending = 0
    waiting = _waiting(conn)
    while todo:
        name, ver = todo.pop(0)
        found = db.name_jobs(conn, name, ver)
        pending += waiting.get((name, ver), 0)
        for job in found:
            jobs[job.id] = job
            reached.setdefault((job.index, name, ver), Reached(job.index, name, ver, None))
        remade = remade_for(conn, name, ver)
        jobs.update((job.id, job) for job in remade)
        for job_id, ix, made_name, made_ver in db.made_by(conn, [j.id for j in found + remade]):
            reached[(ix, made_name, made_ver)] = Reached(ix, made_name, made_ver, job_id)
            if (made_name, made_ver) not in seen:
                seen.add((made_name, made_ver))
                todo.append((made_name, made_ver))
    ordered = sorted(jobs.values(), key=lambda j: j.id)
    return Triggered(start[0], version, ordered, list(reached.values()), pending)


def _waiting(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
    """Files of each release recorded (event not taken yet) or noted (hint) but with no
    job yet."""
    result: dict[tuple[str, str], int] = {}
    rows = conn.execute(
        "SELECT project, version FROM events WHERE taken = 0 "
        "UNION ALL SELECT project, version FROM hints"
    ).fetchall()
    for name, ver in rows:
        key = (normalize_dist(name), ver)
        result[key] = result.get(key, 0) + 1
    return result
