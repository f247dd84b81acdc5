"""The project's index on PostgreSQL ([server] storage = "postgresql", devpi-postgresql),
against a real PostgreSQL started on loopback by the test session (tests/pgserver.py)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import new_project
from helpers import fails, make_wheel, run
from pgserver import PgServer

from pipl.errors import Conflict
from pipl.index.session import connect
from pipl.index.stages import create_default
from pipl.project import server
from pipl.project.project import Project
from pipl.workspace.workspace import create_workspace


def _pip_install(project: Project, name: str, target: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),
         "--index-url", project.simple_url(), name],
        check=True,
    )  # fmt: skip


def _rows(pg: PgServer, database: str, sql: str) -> list[list[object]]:
    conn = pg.connect(database)
    try:
        return list(conn.run(sql))  # type: ignore[attr-defined]
    finally:
        conn.close()  # type: ignore[attr-defined]


def test_an_index_on_postgresql_keeps_its_releases(
    tmp_path: Path, hermetic: Path, pg_server: PgServer
) -> None:
    settings, password = pg_server.new_database("studiopg")
    # a project named like the storage: its owner's password file is another file
    proj = new_project(tmp_path / "postgresql", postgresql=settings, storage_password=password)
    toml = (proj.root / "pipl.toml").read_text()
    assert 'storage = "postgresql"' in toml and "[server.postgresql]" in toml
    assert password not in toml
    assert proj.config.postgresql == settings
    pw_file = proj.secrets.path / "postgresql-password"
    assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
    # devpi keeps its data in the database, not in an SQLite file of the server folder
    assert not (proj.serverdir / ".sqlite").exists()

    with server.running(proj) as started:
        cmdline = Path(f"/proc/{started.pid}/cmdline").read_bytes()
        assert password.encode() not in cmdline
        config_file = proj.secrets.path / "devpi-server.yml"
        assert str(config_file).encode() in cmdline
        assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
        with connect(proj, "admin") as admin:
            create_default(proj, admin)
        with connect(proj, "owner") as owner:
            dev = proj.stage_index()
            wheel = make_wheel(tmp_path / "dist", "pg-probe", "1.0", body="ON = 'pg'\n")
            assert owner.upload(dev, wheel).uploaded
            changed = make_wheel(tmp_path / "b", "pg-probe", "1.0", body="CHANGED = 1\n")
            with pytest.raises(Conflict, match="already on"):
                owner.upload(dev, changed)  # pipl's release rules hold on PostgreSQL too
        page = httpx.get(proj.simple_url() + "pg-probe/", timeout=10)
        assert page.status_code == 200 and "pg_probe-1.0-py3-none-any.whl" in page.text
        _pip_install(proj, "pg-probe", tmp_path / "site1")
        assert (tmp_path / "site1" / "pg_probe" / "__init__.py").read_text() == "ON = 'pg'\n"
        # a packl made in a workspace (its environment from the index) and published
        create_workspace(proj, "pgws")
        made = run(
            ["packl", "create", "pg-task", "--kind", "task", "-w", "pgws"], project=proj.root
        )
        assert made.exit_code == 0, made.output
        sent = run(["packl", "publish", "-p", "pg-task", "-w", "pgws"], project=proj.root)
        assert sent.exit_code == 0 and "uploaded" in sent.output, sent.output
    # the release and its file are rows of the database ...
    names = [row[0] for row in _rows(pg_server, "studiopg", "SELECT path FROM files")]
    assert any(name.endswith("pg_probe-1.0-py3-none-any.whl") for name in names)
    # ... so a restarted server still serves them
    with server.running(proj):
        with connect(proj, "anonymous") as anon:
            assert "pg-probe" in anon.projects(proj.stage_index())
        _pip_install(proj, "pg-probe", tmp_path / "site2")
        assert (tmp_path / "site2" / "pg_probe" / "__init__.py").exists()
        _pip_install(proj, "pg-task", tmp_path / "site3")
        assert (tmp_path / "site3" / "pg_task").is_dir()
        assert "storage:      postgresql" in run(["proj", "status"], project=proj.root).output


def test_a_wrong_password_is_an_error_naming_the_log(
    tmp_path: Path, hermetic: Path, pg_server: PgServer
) -> None:
    settings, password = pg_server.new_database("wrongpw")
    proj = new_project(tmp_path / "wp", postgresql=settings, storage_password=password)
    (proj.secrets.path / "postgresql-password").write_text("not-the-password\n")
    result = run(["proj", "start", "--detach", "--no-ci", "--timeout", "60"], project=proj.root)
    fails(result, 4, "devpi-server exited while starting", str(proj.logfile))


def test_postgresql_settings_are_checked(tmp_path: Path, hermetic: Path) -> None:
    result = run(["proj", "create", str(tmp_path / "a"), "--postgresql",
                  "postgresql://me:secret@db.example/pipl"])  # fmt: skip
    fails(result, 2, "holds a password")
    result = run(["proj", "create", str(tmp_path / "s"), "--server-arg=--storage=pg8000"])
    fails(result, 2, "pipl sets --storage itself", "[server] storage")
    result = run(["proj", "create", str(tmp_path / "b"), "--postgresql", "mysql://db/x"])
    fails(result, 2, "postgresql://USER@HOST:PORT/DATABASE")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    root = tmp_path / "c"
    root.mkdir()
    (root / "pipl.toml").write_text(
        '[project]\nname = "c"\n[server]\nstorage = "postgresql"\n'
        '[server.postgresql]\nhost = "db"\npassword = "x"\n'
    )
    fails(run(["proj", "status"], project=root), 3, "may not hold the password")
    (root / "pipl.toml").write_text('[project]\nname = "c"\n[server]\nstorage = "oracle"\n')
    fails(run(["proj", "status"], project=root), 3, "unknown [server] storage 'oracle'")


def test_create_with_a_wrong_password_leaves_nothing(
    tmp_path: Path, hermetic: Path, pg_server: PgServer
) -> None:
    settings, _ = pg_server.new_database("badcreate")
    url = f"postgresql://{settings.user}@{settings.host}:{settings.port}/{settings.database}"
    result = run(
        ["proj", "create", str(tmp_path / "bad"), "--no-pypi", "--postgresql", url,
         "--storage-password-stdin"],
        input="Zq9-not-it\n",
    )  # fmt: skip
    fails(result, 6, "devpi-init failed", "password authentication failed", "'badcreate'")
    assert len(result.output.strip().splitlines()) == 1
    assert "Zq9-not-it" not in result.output
    assert not (tmp_path / "bad").exists()


def test_the_session_project_has_the_chosen_storage(project: Project) -> None:
    """``PIPL_TEST_STORAGE=postgresql`` runs the tests using the session's project (the
    index tests, ``.ci/run``) against an index on PostgreSQL."""
    assert project.config.storage == os.environ.get("PIPL_TEST_STORAGE", "sqlite")


def test_postgresql_storage_needs_devpi_postgresql(
    tmp_path: Path, hermetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "devpi_postgresql" else real(name, *a),
    )
    result = run(
        ["proj", "create", str(tmp_path / "p"), "--no-pypi", "--postgresql",
         "postgresql://u@127.0.0.1:1/db", "--storage-password-stdin"],
        input="pw\n",
    )  # fmt: skip
    fails(result, 3, "needs devpi-postgresql", "pipl[postgresql]")
    assert not (tmp_path / "p").exists()
