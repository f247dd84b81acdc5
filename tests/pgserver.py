"""A real PostgreSQL for the tests, started on loopback by the test session.

PostgreSQL refuses to run as root: when the tests run as root (as in CI), its data folder
belongs to ``nobody`` and the server runs as that user. ``.ci/run`` installs Debian's
``postgresql`` when it is missing and sets ``PIPL_REQUIRE_POSTGRES=1``, so there the tests
that need it fail instead of skipping.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipl.project.config import PostgresConfig


def find_bindir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl`` (on PATH, or Debian's versioned folder)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl", path=str(Path(found).parent)):
        return Path(found).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(candidate).parent
    return None


def _as_user(user: str | None) -> list[str]:
    if user is None:
        return []
    entry = pwd.getpwnam(user)
    return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups"]


@dataclass
class PgServer:
    host: str
    port: int
    superuser_password: str

    def connect(self, database: str = "postgres") -> object:
        import pg8000.native

        return pg8000.native.Connection(
            "postgres",
            host=self.host,
            port=self.port,
            database=database,
            password=self.superuser_password,
        )

    def new_database(self, name: str) -> tuple[PostgresConfig, str]:
        """A fresh role and database named ``name``; its settings and password."""
        password = secrets.token_urlsafe(16)
        conn = self.connect()
        try:
            conn.run(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'")  # type: ignore[attr-defined]
            conn.run(f'CREATE DATABASE "{name}" OWNER "{name}"')  # type: ignore[attr-defined]
        finally:
            conn.close()  # type: ignore[attr-defined]
        return PostgresConfig(host=self.host, port=self.port, database=name, user=name), password


class NoPostgres(Exception):
    """No PostgreSQL (initdb) on this machine."""


@contextmanager
def running_postgres(port: int) -> Iterator[PgServer]:
    """A PostgreSQL server on 127.0.0.1:``port``, password (scram) auth, for the duration
    of a ``with`` block (also used by ``bench/bench_storage.py``)."""
    bindir = find_bindir()
    if bindir is None:
        raise NoPostgres("no PostgreSQL (initdb) on this machine: install the 'postgresql' package")
    user = "nobody" if os.geteuid() == 0 else None
    # outside pytest's own temporary folder, which only root may enter
    base = Path(tempfile.mkdtemp(prefix="pipl-pg-"))
    password = secrets.token_urlsafe(16)
    pwfile = base / "pw"
    pwfile.write_text(password + "\n")
    if user:
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    data, log = base / "data", base / "log"
    run = [*_as_user(user)]
    try:
        subprocess.run(
            [*run, bindir / "initdb", "-D", data, "-U", "postgres", "--auth=scram-sha-256",
             f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8"],
            check=True, capture_output=True, cwd=base,
        )  # fmt: skip
        options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off"
        proc = subprocess.run(
            [*run, bindir / "pg_ctl", "start", "-D", data, "-l", log, "-w", "-o", options],
            capture_output=True, text=True, cwd=base,
        )  # fmt: skip
        if proc.returncode != 0:
            text = log.read_text() if log.exists() else proc.stderr
            raise RuntimeError(f"PostgreSQL did not start: {text[-2000:]}")
        try:
            yield PgServer("127.0.0.1", port, password)
        finally:
            subprocess.run(
                [*run, bindir / "pg_ctl", "stop", "-D", data, "-m", "fast", "-w"],
                capture_output=True, check=False, cwd=base,
            )  # fmt: skip
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL on loopback and a free port."""
    from conftest import free_port

    try:
        with running_postgres(free_port()) as pg:
            yield pg
    except NoPostgres as exc:
        if os.environ.get("PIPL_REQUIRE_POSTGRES"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
