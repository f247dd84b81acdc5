"""How uploads become jobs.

Three ways in, all idempotent, so nothing is lost and nothing runs twice:

- events the devpi plugin recorded (``devpiserver_on_upload``, replayed by devpi after a
  crash);
- hints the plugin noted right after an upload's commit: the runner reads the release's
  files at once, so a job starts without waiting for devpi's notification thread;
- the sweep: every handled index's releases compared with the outbox (at start, then
  every ``SWEEP_EVERY`` seconds and whenever devpi's serial moved without a hint), which
  finds pushes, uploads during a crash, and hooks that failed.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

from pipl import names
from pipl.ci import db, downstream, outbox
from pipl.ci.handlers import CiError, is_sdist, load
from pipl.errors import NotFound, UsageError
from pipl.index import catalog
from pipl.index.client import IndexClient
from pipl.index.links import links_of


@dataclass
class IndexCache:
    """Index configurations, read from devpi again when an event shows them stale."""

    client: IndexClient
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    refreshed: float = -1e9  # time.monotonic() of the last read

    def refresh(self) -> None:
        self.configs = self.client.indexes()
        self.refreshed = time.monotonic()

    def handlers(self, index: str) -> list[str]:
        config = self.configs.get(index)
        stale = time.monotonic() - self.refreshed > 1
        if config is None or (not config.get("pipl_handlers") and stale):
            # an event there means the index had handlers at upload time: a new index
            # (read at once, even just after a read: it may have been made since), or
            # handlers set since the last read
            self.refresh()
            config = self.configs.get(index)
        return [str(h) for h in (config or {}).get("pipl_handlers") or []]

    def handled(self) -> list[str]:
        return [name for name, c in self.configs.items() if c.get("pipl_handlers")]


# a job for a whole release waits this long after its first upload, so that the other files
# of one publish (an sdist and its wheel) are there when it starts; it starts at once when
# they are (a pushed release arrives whole; an uploaded one once it has both)
SETTLE = 1.0

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def valid_event(event: outbox.Event) -> bool:
    """Names from an event are checked before they reach a path or a command."""
    try:
        names.check_index(event.index)
        names.check_dist(event.project)
        Version(event.version)
    except (UsageError, InvalidVersion):
        return False
    return bool(names.is_release_filename(event.filename) and _SHA256.match(event.sha256))


def jobs_for_events(conn: sqlite3.Connection, cache: IndexCache) -> list[int]:
    """Queue the jobs of every event not taken yet; return the new jobs' event ids."""
    made = []
    events = outbox.pending_events(conn)
    whole: dict[tuple[str, str, str], bool] = {}  # release -> its files are all there
    for event in events:
        if not valid_event(event):
            continue
        release = (event.index, event.project, event.version)
        if release not in whole:
            whole[release] = complete(conn, *release)
        for name in cache.handlers(event.index):
            try:
                handler = load(name)
                rank, per_file = int(handler.rank), bool(handler.per_file)
                if not handler.accepts(event.filename):
                    continue
            except CiError:
                rank, per_file = 0, False  # the job fails with the loading error
            key = event.filename if per_file else ""
            delay = 0.0 if per_file or whole[release] else SETTLE
            if db.add_job(conn, handler=name, rank=rank, event=event, key=key, delay=delay):
                made.append(event.id)
    for release, done in whole.items():
        if done:  # jobs queued in an earlier round start now
            db.end_settle(conn, *release)
    # what depends on these releases there is processed again (pipl.ci.downstream)
    valid = [e for e in events if valid_event(e)]
    made += downstream.queue(conn, cache.client, cache.handlers, valid)
    outbox.mark_taken(conn, [e.id for e in events])
    return made


def complete(conn: sqlite3.Connection, index: str, project: str, version: str) -> bool:
    """True when the release's files are all on ``index``: it was pushed there whole, or
    it has an sdist and a wheel. Its jobs need not wait any longer."""
    if outbox.is_complete(conn, index, project, version):
        return True
    files = outbox.release_filenames(conn, index, project, version)
    return any(is_sdist(f) for f in files) and any(f.endswith(".whl") for f in files)


def release_events(
    conn: sqlite3.Connection,
    client: IndexClient,
    index: str,
    project: str,
    version: str,
    serial: int,
    source: str,
) -> int:
    """Record an event for every file of one release on ``index`` (not its bases), and
    the release in the catalog."""
    new = 0
    try:
        data = client.versions(index, project, inherited=False).get(version)
    except NotFound:
        data = None
    catalog.record(conn, index, project, version, data, serial)
    for link in links_of(data or {}):
        if link.rel != "releasefile" or not link.sha256:
            continue
        new += outbox.record_event(
            conn,
            index=index,
            project=names.normalize_dist(project),
            version=version,
            filename=link.basename,
            sha256=link.sha256,
            serial=serial,
            source=source,
        )
    return new


def take_hints(conn: sqlite3.Connection, client: IndexClient) -> int:
    new = 0
    seen = set()
    for index, project, version, serial, _ in outbox.take_hints(conn):
        if (index, project, version) in seen:
            continue
        seen.add((index, project, version))
        try:
            names.check_index(index)
            names.check_dist(project)
        except UsageError:
            continue
        new += release_events(conn, client, index, project, version, serial, "hint")
    return new


def sweep(
    conn: sqlite3.Connection, cache: IndexCache, serial: int, catalogued: Iterable[str] = ()
) -> int:
    """Record every file on a handled index that the outbox does not know; return how many.
    The indexes in ``catalogued`` (the stages) are read too, and the releases catalog made
    equal to them (one read serves both)."""
    cache.refresh()
    client = cache.client
    new = 0
    wanted = list(catalogued)
    read: dict[str, dict[str, dict[str, Any]]] = {}
    for index in [*cache.handled(), *[i for i in wanted if i not in cache.handled()]]:
        content = read[index] = catalog.read_index(client, index)
        if index not in cache.handled():
            continue
        known = outbox.known_files(conn, index)
        for project, versions in content.items():
            for version, data in versions.items():
                for link in data.get("+links", []):
                    if link.get("rel") != "releasefile":
                        continue
                    basename = link["href"].rsplit("/", 1)[-1].split("#", 1)[0]
                    sha256 = (link.get("hashes") or {}).get("sha256")
                    if not sha256 or (basename, sha256) in known:
                        continue
                    new += outbox.record_event(
                        conn,
                        index=index,
                        project=project,
                        version=version,
                        filename=basename,
                        sha256=sha256,
                        serial=serial,
                        source="sweep",
                    )
    if wanted:
        catalog.sync(conn, client, wanted, read=read, serial=serial)
    return new
