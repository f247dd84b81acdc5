"""A devpi replica of a project's server replays the upload hooks (devpi runs them on
replicas too); pipl's plugin records nothing there, so one upload makes one set of jobs,
on the primary only."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
from conftest import FAST_ARGON2, free_port, new_project
from helpers import make_wheel

from pipl.ci import outbox
from pipl.index.session import connect
from pipl.index.stages import create_default
from pipl.project import server
from pipl.project.replica import create_replica


def _status(url: str) -> dict:
    return httpx.get(f"{url}/+status", timeout=5).json()["result"]


def test_a_replica_records_no_events(tmp_path: Path, hermetic: Path) -> None:
    primary = new_project(tmp_path / "prim")
    with server.running(primary):
        with connect(primary, "admin") as admin:
            create_default(primary, admin)
        # the replica's server folder sits in a pipl project too, where the plugin would write
        mirror = create_replica(
            tmp_path / "mirror",
            primary_url=primary.url,
            server_secret=primary.secrets.server_secret_file.read_bytes(),
            name=primary.name,
            port=free_port(),
            server_args=FAST_ARGON2,
        )
        replica_root, serverdir = mirror.root, mirror.serverdir
        with server.running(mirror):
            with connect(primary, "owner") as owner:
                owner.upload(f"{primary.name}/dev", make_wheel(tmp_path, "repl-demo", "1.0"))
            target = _status(primary.url)["serial"]
            deadline = time.monotonic() + 60
            reached = -1
            while time.monotonic() < deadline:
                try:
                    reached = _status(mirror.url).get("event-serial", -1)
                except httpx.HTTPError:
                    reached = -1
                if reached >= target:
                    break
                time.sleep(0.2)
            assert reached >= target, mirror.logfile.read_text()[-2000:]
    # the replica ran its hooks up to the upload's serial and wrote no outbox ...
    assert outbox.ci_dir_for_serverdir(serverdir) == replica_root / ".pipl" / "ci"
    assert not (replica_root / ".pipl" / "ci" / outbox.DB_NAME).exists()
    # ... while the primary recorded the upload once
    conn = sqlite3.connect(primary.root / ".pipl" / "ci" / outbox.DB_NAME)
    events = conn.execute("SELECT ix, filename FROM events").fetchall()
    conn.close()
    assert events == [(f"{primary.name}/dev", "repl_demo-1.0-py3-none-any.whl")]
