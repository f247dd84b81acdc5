"""Data flows downstream: a release landing on a stage where processing runs (its handlers
include ``process``) re-processes the task and pipeline packls there that depend on it.

A dependent is a packl whose ``process`` jobs on that stage made products (a task or a
pipeline) and whose latest release there requires the new release's name with a
specifier the new version matches, the new version being the highest matching one there
(what a resolver picks now). Nothing is installed to find them: the requirements come from
the index's metadata (``requires_dist``), the releases from the runner's catalog.

Each dependent gets a ``process`` job of its own (key ``after NAME==VERSION``) with a
reason, and the upstream releases it installs and pins (``pipl.ci.builtin.remake`` runs it). The
job waits until no release has joined it for ``SETTLE`` seconds (``MAX_SETTLE`` at most):
releases arriving meanwhile join the queued job instead of making another, so a burst
makes one re-processing (two when one starts mid-burst), and only one re-processing of a
release is queued at a time (``db.claim_next`` never runs two of them at once). The chain
of releases that led to a re-processing is kept: one that would re-process a task a
release in its own chain was made from is a cycle, refused with a failed job saying so.

The owner may pause the flow on a stage (``pause``): releases landing there meanwhile are
noted (``flow_skipped``) instead of re-processing anything, and ``resume`` queues the
re-processings for the latest of them, per name.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import astuple, dataclass
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from pipl import names
from pipl.ci import db, outbox
from pipl.ci.handlers import is_sdist
from pipl.errors import PiplError
from pipl.index import catalog
from pipl.index.client import IndexClient
from pipl.text import shorten

HANDLER = "process"
RANK = 25  # the process handler's
KEY = "after "
SETTLE = 1.0  # seconds a re-processing waits, after the last release that joined it
MAX_SETTLE = 20.0  # seconds a steady stream of releases may hold it back, at most

Release = tuple[str, str]  # (normalized project, version)


@dataclass(frozen=True)
class Remake:
    """What a re-processing job installs and why."""

    job_id: int
    pins: list[str]  # "NAME==VERSION" of the upstream releases it runs for
    chain: list[Release]  # the releases that led to it, from an upload down


def remake_of(conn: sqlite3.Connection, job_id: int) -> Remake | None:
    """The re-processing a job runs (None: the job runs for its own release)."""
    row = conn.execute("SELECT pins, chain FROM remakes WHERE job_id = ?", (job_id,)).fetchone()
    if row is None:
        return None
    return Remake(job_id, list(json.loads(row[0])), [tuple(r) for r in json.loads(row[1])])


def queue(
    conn: sqlite3.Connection,
    client: IndexClient,
    handlers: Callable[[str], list[str]],
    events: Iterable[outbox.Event],
) -> list[int]:
    """Queue the re-processings the releases of ``events`` call for (a release landing on
    a paused stage is noted instead); the events that made a job (one per job)."""
    seen: dict[tuple[str, str, str], outbox.Event] = {}
    for event in events:
        if HANDLER in handlers(event.index):
            seen.setdefault(
                (event.index, names.normalize_dist(event.project), event.version), event
            )
    held = paused(conn)
    made = []
    for (index, project, version), event in seen.items():
        try:
            found = dependents(conn, client, index, project, version)
        except (PiplError, OSError, ValueError):
            continue  # the server went away mid-read: the sweep's event comes back later
        if index in held:
            _skip(conn, event, project, [task for task, _ in found])
            continue
        made += [event.id for task, v in found if remake_release(conn, event, task, v)]
    return made


def recorded(conn: sqlite3.Connection, job: db.Job) -> dict[str, Any]:
    """The re-processing ``job`` runs, for its spec (``JobSpec.remake``): its reason, the
    upstream pins and N of the products' ``.postN`` (one more than the highest among the
    products that jobs of its release on its index made); empty for a job that runs for
    its release's own upload."""
    remake = remake_of(conn, job.id)
    if remake is None:
        return {}
    rows = conn.execute(
        "SELECT DISTINCT m.version FROM made AS m JOIN jobs AS j ON j.id = m.job_id "
        "WHERE j.ix = ? AND j.project = ? AND j.version = ? AND m.project != j.project",
        (job.index, names.normalize_dist(job.project), job.version),
    )
    number = 1 + max((_post(str(r[0])) for r in rows), default=0)
    reason = job.reason or describe(remake.pins, [])
    return {"reason": reason, "pins": list(remake.pins), "number": number}


def _post(version: str) -> int:
    try:
        return Version(version).post or 0
    except InvalidVersion:
        return 0


def remade_for(conn: sqlite3.Connection, project: str, version: str) -> list[db.Job]:
    """The re-processing jobs release ``project version`` set going (queued for it, or
    joined by it), oldest first."""
    pin = f"{names.normalize_dist(project)}=={version}"
    rows = conn.execute(
        "SELECT j.id FROM jobs AS j LEFT JOIN remakes AS r ON r.job_id = j.id "
        "WHERE j.handler = ? AND j.reason != '' AND (j.key = ? OR r.pins LIKE ?) ORDER BY j.id",
        (HANDLER, f"{KEY}{pin}", f'%"{pin}"%'),
    ).fetchall()
    return [db.get_job(conn, int(r[0])) for r in rows]


# -- pausing the flow on a stage --------------------------------------------------------


@dataclass(frozen=True)
class Pause:
    """The flow on ``index`` is paused, since ``since``, by ``by``."""

    index: str
    since: float
    by: str


def paused(conn: sqlite3.Connection) -> dict[str, Pause]:
    """The indexes whose flow is paused."""
    rows = conn.execute("SELECT ix, since, by FROM flow_paused").fetchall()
    return {str(ix): Pause(str(ix), float(since), str(by)) for ix, since, by in rows}


def skipped(conn: sqlite3.Connection, index: str) -> list[Release]:
    """The releases that landed on ``index`` while its flow was paused, not flowed yet."""
    rows = conn.execute(
        "SELECT project, version FROM flow_skipped WHERE ix = ? ORDER BY project, version",
        (index,),
    )
    return [(str(p), str(v)) for p, v in rows]


def pause(conn: sqlite3.Connection, index: str, by: str) -> Pause:
    """Pause the flow on ``index`` (kept while paused already)."""
    conn.execute(
        "INSERT OR IGNORE INTO flow_paused (ix, since, by) VALUES (?, ?, ?)",
        (index, time.time(), by),
    )
    return paused(conn)[index]


def resume(conn: sqlite3.Connection, client: IndexClient, index: str) -> list[int]:
    """Let data flow on ``index`` again and queue the re-processings the latest release of
    each name noted while it was paused calls for; the ids of the jobs queued."""
    conn.execute("DELETE FROM flow_paused WHERE ix = ?", (index,))
    rows = conn.execute(
        "SELECT project, version, event FROM flow_skipped WHERE ix = ?", (index,)
    ).fetchall()
    newest: dict[str, tuple[Version, outbox.Event]] = {}
    for project, version, text in rows:
        key = Version(str(version))
        if project not in newest or key > newest[project][0]:
            newest[project] = (key, outbox.Event(*json.loads(text)))
    before = _last_job(conn)
    for project, (_, event) in sorted(newest.items()):
        # a failed read raises: resuming again retries
        for task, version in dependents(conn, client, index, project, event.version):
            remake_release(conn, event, task, version)
        conn.execute("DELETE FROM flow_skipped WHERE ix = ? AND project = ?", (index, project))
    rows = conn.execute(
        "SELECT id FROM jobs WHERE id > ? AND handler = ? AND ix = ? AND reason != ''",
        (before, HANDLER, index),
    ).fetchall()
    return [int(r[0]) for r in rows]


def expected(conn: sqlite3.Connection, tasks: list[str]) -> list[tuple[str, str, str]]:
    """(index, upstream, version) of the releases meant to flow into ``tasks``: those a
    re-processing of one was queued for, and those noted while the flow was paused."""
    if not tasks:
        return []
    marks = ",".join("?" * len(tasks))
    found = set()
    rows = conn.execute(
        f"SELECT j.ix, r.pins FROM remakes AS r JOIN jobs AS j ON j.id = r.job_id "  # noqa: S608 - placeholders only
        f"WHERE j.project IN ({marks})",
        tasks,
    )
    for index, pins in rows:
        for pin in json.loads(pins):
            name, _, version = str(pin).partition("==")
            found.add((str(index), names.normalize_dist(name), version))
    for index, project, version, noted in conn.execute(
        "SELECT ix, project, version, tasks FROM flow_skipped"
    ):
        if set(json.loads(noted)) & set(tasks):
            found.add((str(index), str(project), str(version)))
    return sorted(found)


def _skip(conn: sqlite3.Connection, event: outbox.Event, project: str, tasks: list[str]) -> None:
    """Note a release landing on a paused stage, with the tasks it would re-process (those
    noted by an earlier event of it kept)."""
    row = conn.execute(
        "SELECT tasks FROM flow_skipped WHERE ix = ? AND project = ? AND version = ?",
        (event.index, project, event.version),
    ).fetchone()
    tasks = sorted(set(tasks) | set(json.loads(row[0]) if row else []))
    conn.execute(
        "INSERT OR REPLACE INTO flow_skipped (ix, project, version, event, tasks) "
        "VALUES (?, ?, ?, ?, ?)",
        (event.index, project, event.version, json.dumps(list(astuple(event))), json.dumps(tasks)),
    )


def _last_job(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM jobs").fetchone()[0])


# -- finding dependents -----------------------------------------------------------------


def producers(conn: sqlite3.Connection, index: str) -> list[str]:
    """The packls whose ``process`` jobs on ``index`` made products."""
    rows = conn.execute(
        "SELECT DISTINCT j.project FROM jobs AS j JOIN made AS m ON m.job_id = j.id "
        "WHERE j.handler = ? AND j.ix = ? AND m.project != j.project",
        (HANDLER, index),
    )
    return sorted(str(r[0]) for r in rows)


def latest(conn: sqlite3.Connection, index: str, project: str) -> str | None:
    """The highest version of ``project`` stored on ``index`` (the runner's catalog)."""
    best: tuple[Version, str] | None = None
    for (text,) in conn.execute(
        "SELECT version FROM releases WHERE ix = ? AND project = ?", (index, project)
    ):
        try:
            key = Version(text)
        except InvalidVersion:
            continue
        if best is None or key > best[0]:
            best = (key, str(text))
    return best[1] if best else None


_REQUIRES: dict[tuple[str, str, str], list[Requirement]] = {}


def requirements(client: IndexClient, index: str, project: str, version: str) -> list[Requirement]:
    """What ``project==version`` requires (no extra), from the index's metadata; kept."""
    from pipl.index.resolve import requirements as read

    key = (index, project, version)
    if key not in _REQUIRES:
        if len(_REQUIRES) > 4096:
            _REQUIRES.clear()
        _REQUIRES[key] = read(client, index, project, version)
    return _REQUIRES[key]


def dependents(
    conn: sqlite3.Connection, client: IndexClient, index: str, project: str, version: str
) -> list[Release]:
    """(task, its latest version) on ``index`` that a resolver would now install with
    ``project version``: they require ``project`` and ``version`` is the highest match."""
    found: list[Release] = []
    best: dict[str, str | None] = {}
    for task in producers(conn, index):
        if task == project:
            continue
        task_version = latest(conn, index, task)
        if task_version is None:
            continue
        try:
            reqs = requirements(client, index, task, task_version)
        except PiplError:  # metadata pipl cannot read: not re-processed
            continue
        wanted = SpecifierSet()
        named = False
        for req in reqs:
            if names.normalize_dist(req.name) == project:
                named = True
                wanted &= req.specifier
        if not named or not wanted.contains(version, prereleases=True):
            continue
        text = str(wanted)
        if text not in best:
            from pipl.index.resolve import best_version

            best[text] = best_version(client, index, project, wanted)
        if best[text] is not None and Version(str(best[text])) == Version(version):
            found.append((task, task_version))
    return found


# -- queueing ---------------------------------------------------------------------------


def chain_of(conn: sqlite3.Connection, index: str, project: str, version: str) -> list[Release]:
    """The releases that led to ``project version`` on ``index``, ending with it: when a
    ``process`` job made it, that job's chain and release come first."""
    row = conn.execute(
        "SELECT j.id, j.project, j.version FROM made AS m JOIN jobs AS j ON j.id = m.job_id "
        "WHERE m.ix = ? AND m.project = ? AND m.version = ? AND j.handler = ? "
        "AND j.project != m.project ORDER BY j.id DESC LIMIT 1",
        (index, project, version, HANDLER),
    ).fetchone()
    if row is None:
        return [(project, version)]
    above = remake_of(conn, int(row[0]))
    chain = list(above.chain) if above else []
    return [*chain, (str(row[1]), str(row[2])), (project, version)]


def describe(pins: list[str], chain: list[Release]) -> str:
    """``re-processing for NAME VERSION (upload)``, or the release that made it."""
    what = ", ".join(p.replace("==", " ") for p in pins)
    if len(chain) < 2:
        return f"re-processing for {what} (upload)"
    task = chain[-2]
    via = " -> ".join(f"{p} {v}" for p, v in chain[:-1])
    return f"re-processing for {what} (made by processing {task[0]} {task[1]}: {via})"


def remake_release(conn: sqlite3.Connection, event: outbox.Event, task: str, version: str) -> bool:
    """Queue (or update the queued) re-processing of ``task version`` on the event's index
    for the event's release; True when a job was queued."""
    index = event.index
    upstream = names.normalize_dist(event.project)
    pin = f"{upstream}=={event.version}"
    chain = chain_of(conn, index, upstream, event.version)
    jobs = db.release_jobs(conn, index, task, version)
    mine = [j for j in jobs if j.handler == HANDLER]
    remakes = {j.id: remake_of(conn, j.id) for j in mine if j.reason}
    if any(r is not None and pin in r.pins for r in remakes.values()):
        return False  # this release made its re-processing already
    waiting = [j for j in mine if j.state == db.QUEUED and j.started is None]
    if any(not j.reason for j in waiting):
        return False  # its own processing has not started: it installs the newest
    cycle = task in {p for p, _ in chain}
    if waiting and not cycle:
        _join(conn, waiting[-1].id, remakes[waiting[-1].id], pin, chain)
        return False
    entry = catalog.get(conn, index, task, version)
    files = sorted((entry.files if entry else []), key=lambda f: not is_sdist(f["name"]))
    if not files:
        return False  # gone from the index meanwhile
    pins = [pin]
    if not db.add_job(
        conn,
        handler=HANDLER,
        rank=RANK,
        event=outbox.Event(
            event.id,
            index,
            task,
            version,
            files[0]["name"],
            files[0]["sha256"],
            event.serial,
            event.source,
            event.recorded,
        ),
        key=f"{KEY}{pin}",
        delay=SETTLE,
        reason=describe(pins, chain),
    ):
        return False
    job_id = int(conn.execute("SELECT last_insert_rowid()").fetchone()[0])
    conn.execute(
        "INSERT OR REPLACE INTO remakes (job_id, pins, chain) VALUES (?, ?, ?)",
        (job_id, json.dumps(pins), json.dumps(chain)),
    )
    if cycle:
        loop = " -> ".join(f"{p} {v}" for p, v in [*chain, (task, version)])
        conn.execute(
            "UPDATE jobs SET state = ?, finished = ?, message = ? WHERE id = ?",
            (db.FAILED, time.time(), f"refused: a cycle: {loop}", job_id),
        )
    return True


def _join(
    conn: sqlite3.Connection, job_id: int, remake: Remake | None, pin: str, chain: list[Release]
) -> None:
    """Let the queued re-processing ``job_id`` run for ``pin`` too (the newest release of
    a name replaces the one it pinned), in the same settle window."""
    name = pin.split("==", 1)[0]
    pins = [p for p in (remake.pins if remake else []) if p.split("==", 1)[0] != name] + [pin]
    merged = list(remake.chain if remake else [])
    merged += [r for r in chain if r not in merged]
    conn.execute(
        "INSERT OR REPLACE INTO remakes (job_id, pins, chain) VALUES (?, ?, ?)",
        (job_id, json.dumps(pins), json.dumps(merged)),
    )
    # a burst keeps it waiting: it runs once the releases stop coming (MAX_SETTLE at most)
    now = time.time()
    conn.execute(
        "UPDATE jobs SET reason = ?, not_before = MIN(created + ?, ?) "
        "WHERE id = ? AND state = 'queued'",
        (shorten(describe(pins, chain), 500), MAX_SETTLE, now + SETTLE, job_id),
    )
