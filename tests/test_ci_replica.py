"""A devpi replica of a project's server replays the upload hooks (devpi runs them on
replicas too); pipl's plugin records nothing there, so one upload makes one set of jobs,
on the primary only."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import FAST_ARGON2, free_port, new_project
from helpers import make_wheel

from pipl.ci import outbox
from pipl.index.session import connect
from pipl.index.stages import create_default
from pipl.project import server


def _status(url: str) -> dict:
    return httpx.get(f"{url}/+status", timeout=5).json()["result"]


def test_a_replica_records_no_events(tmp_path: Path, hermetic: Path) -> None:
    primary = new_project(tmp_path / "prim", server_args=[*FAST_ARGON2, "--role", "primary"])
    # the replica's server folder sits in a pipl project too, where the plugin would write
    replica_root = tmp_path / "mirror"
    (replica_root / ".pipl").mkdir(parents=True)
    (replica_root / "pipl.toml").write_text('[project]\nname = "mirror"\n')
    serverdir = replica_root / ".pipl" / "devpi"
    bindir = Path(sys.executable).parent
    with server.running(primary):
        with connect(primary, "admin") as admin:
            create_default(primary, admin)
        common = ["--primary-url", primary.url, "--serverdir", str(serverdir)]
        subprocess.run([bindir / "devpi-init", *common], check=True, capture_output=True)
        port = free_port()
        replica_url = f"http://127.0.0.1:{port}"
        secret = str(primary.secrets.server_secret_file)  # replication is authenticated
        with (tmp_path / "replica.log").open("w") as log:
            proc = subprocess.Popen(
                [bindir / "devpi-server", *common, "--port", str(port),
                 "--secretfile", secret, *FAST_ARGON2],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            with connect(primary, "owner") as owner:
                owner.upload(f"{primary.name}/dev", make_wheel(tmp_path, "repl-demo", "1.0"))
            target = _status(primary.url)["serial"]
            deadline = time.monotonic() + 60
            reached = -1
            while time.monotonic() < deadline:
                try:
                    reached = _status(replica_url).get("event-serial", -1)
                except httpx.HTTPError:
                    reached = -1
                if reached >= target:
                    break
                time.sleep(0.2)
            assert reached >= target, (tmp_path / "replica.log").read_text()[-2000:]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    # the replica ran its hooks up to the upload's serial and wrote no outbox ...
    assert outbox.ci_dir_for_serverdir(serverdir) == replica_root / ".pipl" / "ci"
    assert not (replica_root / ".pipl" / "ci" / outbox.DB_NAME).exists()
    # ... while the primary recorded the upload once
    conn = sqlite3.connect(primary.root / ".pipl" / "ci" / outbox.DB_NAME)
    events = conn.execute("SELECT ix, filename FROM events").fetchall()
    conn.close()
    assert events == [(f"{primary.name}/dev", "repl_demo-1.0-py3-none-any.whl")]
