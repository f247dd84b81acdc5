"""The CI database (``pipl.ci.database``): one schema with versions, migrated once; a
database from before versions keeps every row; no DDL when a request opens it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from pipl.ci import database, db, downstream, outbox, reviews
from pipl.errors import ProjectError
from pipl.index import catalog
from pipl.project.project import Project, ProjectFiles

# The tables as pipl made them before the schema had a version (each module made its own
# on every connect; ``jobs.reason`` came later, by ALTER TABLE), copied from that code.
OUTBOX = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    filename TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    serial INTEGER NOT NULL,
    source TEXT NOT NULL,
    recorded REAL NOT NULL,
    taken INTEGER NOT NULL DEFAULT 0,
    UNIQUE (ix, filename, sha256)
);
CREATE INDEX IF NOT EXISTS events_taken ON events (taken, id);
CREATE TABLE IF NOT EXISTS complete (
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    recorded REAL NOT NULL,
    UNIQUE (ix, project, version)
);
CREATE TABLE IF NOT EXISTS hints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    serial INTEGER NOT NULL,
    recorded REAL NOT NULL
);
"""
JOBS = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    handler TEXT NOT NULL,
    rank INTEGER NOT NULL,
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    key TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    filename TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    runner_pid INTEGER,
    child_pid INTEGER,
    message TEXT NOT NULL DEFAULT '',
    UNIQUE (ix, project, version, handler, key)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, id);
CREATE INDEX IF NOT EXISTS jobs_release ON jobs (ix, project, version);
CREATE INDEX IF NOT EXISTS jobs_name ON jobs (project, version);
CREATE TABLE IF NOT EXISTS made (
    job_id INTEGER NOT NULL,
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    UNIQUE (job_id, ix, project, version)
);
"""
CATALOG = """
CREATE TABLE IF NOT EXISTS releases (
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    seen REAL NOT NULL,
    vkey TEXT NOT NULL DEFAULT '',
    serial INTEGER NOT NULL,
    files TEXT NOT NULL,
    product INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ix, project, version)
);
CREATE INDEX IF NOT EXISTS releases_newest ON releases (ix, seen, vkey);
CREATE TABLE IF NOT EXISTS catalog_indexes (
    ix TEXT PRIMARY KEY,
    serial INTEGER NOT NULL,
    synced REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS manifests (
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    manifest TEXT,
    error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (ix, project, version)
);
CREATE TABLE IF NOT EXISTS provenance (
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    source TEXT NOT NULL,
    source_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS provenance_source ON provenance (source, source_version);
CREATE INDEX IF NOT EXISTS provenance_product ON provenance (ix, project, version);
"""
REVIEWS = """
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    user TEXT NOT NULL,
    decision TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    files TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS reviews_release ON reviews (ix, project, version, id);
"""
FLOW = """
CREATE TABLE IF NOT EXISTS remakes (
    job_id INTEGER PRIMARY KEY,
    pins TEXT NOT NULL,
    chain TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS flow_paused (
    ix TEXT PRIMARY KEY,
    since REAL NOT NULL,
    by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS flow_skipped (
    ix TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    event TEXT NOT NULL,
    tasks TEXT NOT NULL,
    PRIMARY KEY (ix, project, version)
);
"""
ALTER_REASON = "ALTER TABLE jobs ADD COLUMN reason TEXT NOT NULL DEFAULT ''"
ROWS = """
INSERT INTO events (ix, project, version, filename, sha256, serial, source, recorded, taken)
    VALUES ('p/dev', 'lib', '1.0', 'lib-1.0.tar.gz', 'aa', 7, 'hook', 1.5, 1);
INSERT INTO events (ix, project, version, filename, sha256, serial, source, recorded)
    VALUES ('p/dev', 'lib', '1.1', 'lib-1.1.tar.gz', 'bb', 9, 'hint', 2.5);
INSERT INTO complete VALUES ('p/dev', 'lib', '1.0', 1.5);
INSERT INTO hints (ix, project, version, serial, recorded) VALUES ('p/dev', 'lib', '1.1', 9, 2.5);
"""
JOB_ROWS = """
INSERT INTO jobs (handler, rank, ix, project, version, key, event_id, filename, sha256, state,
    attempts, created, started, finished, message)
    VALUES ('qa', 10, 'p/dev', 'lib', '1.0', '', 1, 'lib-1.0.tar.gz', 'aa', 'passed', 1, 1.6,
    1.7, 3.0, 'QA passed');
INSERT INTO made VALUES (1, 'p/qa', 'lib', '1.0');
INSERT INTO releases VALUES ('p/dev', 'lib', '1.0', 1.5, '', 7, '[]', 0);
INSERT INTO catalog_indexes VALUES ('p/dev', 9, 3.0);
INSERT INTO provenance VALUES ('p/qa', 'shot-report', '1.0', 'lib', '1.0');
INSERT INTO reviews (ix, project, version, user, decision, comment, files, at)
    VALUES ('p/qa', 'lib', '1.0', 'carol', 'approve', 'fine', '{"lib-1.0.tar.gz": "aa"}', 4.0);
INSERT INTO remakes VALUES (1, '["lib==1.0"]', '[["lib", "1.0"]]');
INSERT INTO flow_paused VALUES ('p/qa', 5.0, 'owner');
"""


def _old_database(folder: Path, schema: str, rows: str) -> None:
    folder.mkdir(parents=True)
    conn = sqlite3.connect(folder / outbox.DB_NAME, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(schema + rows)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    conn.close()


def _tables(conn: sqlite3.Connection) -> dict[str, list[str]]:
    names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {
        n: [row[1] for row in conn.execute(f"PRAGMA table_info({n})")]
        for n in sorted(names)
        if n != "sqlite_sequence"
    }


def _fresh_tables(tmp_path: Path) -> dict[str, list[str]]:
    with database.connect(tmp_path / "fresh") as conn:
        return _tables(conn)


@pytest.mark.parametrize(
    "old",
    [
        "the runner's tables, jobs with reason",
        "the runner's tables, jobs without reason",
        "only the upload hook's tables",
    ],
)
def test_a_database_from_before_versions_migrates_without_loss(tmp_path: Path, old: str) -> None:
    root = tmp_path / "proj"
    folder = outbox.ci_dir(root)
    if old.startswith("only"):
        _old_database(folder, OUTBOX, ROWS)
    elif old.endswith("without reason"):
        _old_database(folder, OUTBOX + JOBS + CATALOG + REVIEWS + FLOW, ROWS + JOB_ROWS)
    else:
        schema = OUTBOX + JOBS + CATALOG + REVIEWS + FLOW + ALTER_REASON + ";"
        _old_database(folder, schema, ROWS + JOB_ROWS)
    with db.open_db(root) as conn:
        assert database.version_of(conn) == database.VERSION
        assert _tables(conn) == _fresh_tables(tmp_path)  # the same schema as a new database
        assert [(e.project, e.version, e.serial) for e in outbox.pending_events(conn)] == [
            ("lib", "1.1", 9)
        ]
        assert outbox.known_files(conn, "p/dev") == {
            ("lib-1.0.tar.gz", "aa"),
            ("lib-1.1.tar.gz", "bb"),
        }
        assert outbox.is_complete(conn, "p/dev", "lib", "1.0")
        assert outbox.take_hints(conn) == [("p/dev", "lib", "1.1", 9, 2.5)]
        if old.startswith("only"):
            assert db.list_jobs(conn) == []
            return
        [job] = db.list_jobs(conn)
        assert (job.handler, job.state, job.message, job.reason) == (
            "qa",
            "passed",
            "QA passed",
            "",
        )
        assert db.made_by(conn, [job.id]) == [(job.id, "p/qa", "lib", "1.0")]
        assert catalog.where(conn, "lib", "1.0") == ["p/dev"]
        assert catalog.consumers(conn, "lib", "1.0") == [("p/qa", "shot-report", "1.0")]
        [review] = reviews.decisions(conn, "p/qa", "lib", "1.0")
        assert (review.user, review.comment, review.files) == (
            "carol",
            "fine",
            {"lib-1.0.tar.gz": "aa"},
        )
        assert list(downstream.paused(conn)) == ["p/qa"]
        assert downstream.remake_of(conn, job.id) == downstream.Remake(
            job.id, ["lib==1.0"], [("lib", "1.0")]
        )


def _ddl_seen(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The schema statements every CI database connection opened from now on runs."""
    seen: list[str] = []

    class Traced(database.Connection):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self.set_trace_callback(seen.append)

    monkeypatch.setattr(database, "Connection", Traced)
    return seen


def _ddl(statements: list[str]) -> list[str]:
    words = ("CREATE", "ALTER", "DROP", "PRAGMA USER_VERSION =")
    return [s for s in statements if s.lstrip().upper().startswith(words)]


def test_migrations_run_once_and_opening_after_runs_no_ddl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _ddl_seen(monkeypatch)
    applied = db.migrate(tmp_path)
    assert [m.version for m in applied] == [m.version for m in database.MIGRATIONS]
    assert _ddl(seen)  # the first open made the tables
    seen.clear()
    assert db.migrate(tmp_path) == []
    with db.open_db(tmp_path) as conn:
        db.list_jobs(conn)
    with outbox.connect(outbox.ci_dir(tmp_path)) as conn:
        outbox.pending_events(conn)
    assert seen and _ddl(seen) == []


def test_two_processes_opening_an_old_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    folder = outbox.ci_dir(tmp_path)
    _old_database(folder, OUTBOX + JOBS, ROWS)
    start = threading.Barrier(4)
    applied: list[int] = []
    errors: list[BaseException] = []

    def upgrade() -> None:
        try:
            start.wait()
            applied.extend(m.version for m in database.upgrade(folder))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upgrade) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and applied == [m.version for m in database.MIGRATIONS]
    with db.open_db(tmp_path) as conn:
        assert len(outbox.known_files(conn, "p/dev")) == 2


def test_a_request_path_never_changes_the_schema(tmp_path: Path) -> None:
    folder = outbox.ci_dir(tmp_path)
    _old_database(folder, OUTBOX, ROWS)
    with pytest.raises(
        ProjectError, match="schema version 0 and this pipl needs .*restart the CI runner"
    ):
        db.open_db(tmp_path, migrate=False)
    raw = sqlite3.connect(folder / outbox.DB_NAME)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 0
    assert sorted(_tables(raw)) == ["complete", "events", "hints"]
    raw.close()
    db.migrate(tmp_path)
    with db.open_db(tmp_path, migrate=False) as conn:
        assert database.version_of(conn) == database.VERSION


def test_a_database_newer_than_this_pipl_is_refused(tmp_path: Path) -> None:
    db.migrate(tmp_path)
    raw = sqlite3.connect(outbox.ci_dir(tmp_path) / outbox.DB_NAME)
    raw.execute(f"PRAGMA user_version = {database.VERSION + 1}")
    raw.close()
    with pytest.raises(ProjectError, match="newer than this pipl knows"):
        db.open_db(tmp_path)


def test_the_database_closes_when_its_block_ends(tmp_path: Path) -> None:
    with db.open_db(tmp_path) as conn:
        assert db.list_jobs(conn) == []
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        conn.execute("SELECT 1")


def test_only_the_database_module_holds_ddl() -> None:
    """The schema lives in one module: no other module of the CI, the API or the web
    pages makes or changes a table."""
    package = Path(__file__).resolve().parent.parent / "pipl"
    found = []
    for folder in ("ci", "api", "web"):
        for path in (package / folder).rglob("*.py"):
            text = path.read_text().upper()
            if path.name != "database.py" and any(
                w in text for w in ("CREATE TABLE", "ALTER TABLE", "CREATE INDEX", "EXECUTESCRIPT")
            ):
                found.append(str(path.relative_to(package)))
    assert found == []


def test_web_pages_and_api_requests_run_no_ddl(
    ciproj: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard brings the database up to date as it starts; its requests then open
    it without a single schema statement."""
    from webob import Request

    from pipl.web.app import WebApp

    app = WebApp(ciproj)
    seen = _ddl_seen(monkeypatch)
    paths = ["/", "/jobs", "/products", "/api/v1/jobs", "/api/v1/jobs/counts", "/api/v1/flow"]
    paths += ["/api/v1/stages/dev/releases", "/api/v1/products", "/api/v1/jobs/triggered"]
    for path in paths:
        response = Request.blank(path).get_response(app)
        assert response.status_code < 500, (path, response.text[:300])
    assert seen and _ddl(seen) == []


def test_the_runner_brings_an_old_database_up_to_date_as_it_starts(tmp_path: Path) -> None:
    from pipl.service import _migrate

    _old_database(outbox.ci_dir(tmp_path), OUTBOX + JOBS, ROWS)
    project = ProjectFiles(tmp_path)
    said: list[str] = []
    _migrate(project, said.append)
    assert said == ["pipl: CI database: schema version 1 (the CI tables, made where missing)"]
    _migrate(project, said.append)
    assert len(said) == 1  # once
    with db.open_db(tmp_path, migrate=False) as conn:
        assert len(outbox.known_files(conn, "p/dev")) == 2


def _release(name: str, version: str) -> dict[str, object]:
    href = f"http://x/p/qa/+f/ab/{name}-{version}.tar.gz"
    return {"+links": [{"rel": "releasefile", "href": href, "hashes": {"sha256": "ab"}}]}


def test_a_sweep_never_undoes_a_release_recorded_after_it_read(tmp_path: Path) -> None:
    """The sweep reads every index (a while) before it writes: a release a push or a hint
    recorded meanwhile, at a later serial, stays in the catalog; a sweep at that serial or
    later makes the catalog equal to what it read, as ever."""
    with database.connect(tmp_path) as conn:
        catalog.record(conn, "p/qa", "task", "0.1", _release("task", "0.1"), 12)
        read_before = {"lib": {"1.0": _release("lib", "1.0")}}
        catalog.sync_index(conn, "p/qa", read_before, 10)
        assert catalog.get(conn, "p/qa", "task", "0.1") is not None
        assert catalog.get(conn, "p/qa", "lib", "1.0") is not None
        catalog.sync_index(conn, "p/qa", {"task": {"0.1": {"+links": []}}}, 11)
        assert catalog.get(conn, "p/qa", "task", "0.1") is not None  # read before 12
        catalog.sync_index(conn, "p/qa", read_before, 12)
        assert catalog.get(conn, "p/qa", "task", "0.1") is None
        assert catalog.get(conn, "p/qa", "lib", "1.0") is not None
