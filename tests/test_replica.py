"""``pipl proj replica``: a devpi replica of a project's server follows its uploads within
seconds, and ``pipl proj status`` shows how far behind it is."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from conftest import FAST_ARGON2, free_port, new_project
from helpers import fails, make_wheel, run

from pipl.index.client import IndexClient
from pipl.index.session import connect
from pipl.index.stages import create_default
from pipl.index.status import server_status
from pipl.project import server
from pipl.project.project import Project, ProjectFiles
from pipl.service import status as runner_status


def _wait_for(url: str, needle: str, timeout: float = 30.0) -> float:
    """Seconds until ``url`` answers with ``needle`` in its body."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            if needle in httpx.get(url, timeout=5).text:
                return time.monotonic() - began
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not show {needle} within {timeout}s")


def test_a_replica_follows_the_primary(tmp_path: Path, hermetic: Path) -> None:
    primary = new_project(tmp_path / "prim")
    with server.running(primary):
        with connect(primary, "admin") as admin:
            create_default(primary, admin)
        with connect(primary, "owner") as owner:
            owner.upload(primary.stage_index(), make_wheel(tmp_path / "d1", "rep-one", "1.0"))
        port = free_port()
        args = [f"--server-arg={arg}" for arg in FAST_ARGON2]
        result = run(
            ["proj", "replica", str(tmp_path / "mirror"), "--primary-url", primary.url,
             "--port", str(port), *args],
            project=primary.root,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "Replica running at" in result.output
        mirror = Project.load(tmp_path / "mirror")
        try:
            assert mirror.config.primary_url == primary.url
            assert mirror.name == primary.name and mirror.config.stages == primary.config.stages
            # what was there before it started ...
            _wait_for(mirror.simple_url() + "rep-one/", "rep_one-1.0-py3-none-any.whl")
            # ... and an upload made now, within seconds
            with connect(primary, "owner") as owner:
                owner.upload(primary.stage_index(), make_wheel(tmp_path / "d2", "rep-two", "2.0"))
            seconds = _wait_for(mirror.simple_url() + "rep-two/", "rep_two-2.0-py3-none-any.whl")
            assert seconds < 10
            st = server_status(mirror)
            assert st.replica is not None and st.replica.primary_url == primary.url
            assert st.replica.lag == 0 and st.replica.primary_reachable
            out = run(["proj", "status"], project=mirror.root).output
            assert f"replica of:   {primary.url}  lag: 0 serials behind" in out
            data = json.loads(run(["proj", "status", "--json"], project=mirror.root).stdout)
            assert data["data"]["replica"]["lag"] == 0
            assert data["data"]["replica"]["primary_serial"] == data["data"]["serial"]
            # the primary lists the replica following it, caught up
            followers = server_status(primary).replicas
            assert [f.lag for f in followers] == [0]
            assert "replica:" in run(["proj", "status"], project=primary.root).output
            # an upload sent to the replica goes to the primary
            with connect(primary, "owner") as owner, IndexClient(mirror.url) as via:
                assert owner.token is not None
                via.use_token(owner.token)
                via.upload(primary.stage_index(), make_wheel(tmp_path / "d3", "rep-via", "1.0"))
                assert "rep-via" in owner.projects(primary.stage_index())
        finally:
            server.stop(mirror)
    # with the primary gone, the replica reports the last serial it saw; it runs no CI
    result = run(["proj", "start", "--detach"], project=mirror.root)
    assert result.exit_code == 0, result.output
    try:
        assert not runner_status(mirror).running
        st = server_status(mirror)
        assert st.replica is not None and not st.replica.primary_reachable
        assert "primary not answering" in run(["proj", "status"], project=mirror.root).output
    finally:
        server.stop(mirror)


def test_replica_needs_a_primary_serving_replicas(tmp_path: Path, hermetic: Path) -> None:
    port = free_port()
    secret = tmp_path / "secret"
    secret.write_text("x" * 44)
    result = run(["proj", "replica", str(tmp_path / "r"), "--primary-url",
                  f"http://127.0.0.1:{port}", "--secret-file", str(secret),
                  "--port", str(free_port())])  # fmt: skip
    fails(result, 4, f"no devpi-server answers at http://127.0.0.1:{port}")
    assert not (tmp_path / "r").exists()
    result = run(["proj", "replica", str(tmp_path / "r"), "--primary-url", "ftp://x",
                  "--secret-file", str(secret), "--port", str(free_port())])  # fmt: skip
    fails(result, 2, "invalid primary URL 'ftp://x'")
    result = run(["proj", "replica", str(tmp_path / "r"), "--primary-url", "http://x:1"],
                 project=None)  # fmt: skip
    fails(result, 2, "--secret-file")
    # a server started in devpi's standalone role (as pipl before replicas did)
    standalone = new_project(tmp_path / "alone", server_args=[*FAST_ARGON2, "--role", "standalone"])
    with server.running(standalone):
        result = run(["proj", "replica", str(tmp_path / "r"), "--primary-url", standalone.url,
                      "--port", str(free_port())], project=standalone.root)  # fmt: skip
    made = (tmp_path / "r").exists()
    if made:  # never leave a replica running, whatever the outcome
        server.stop(ProjectFiles(tmp_path / "r"))
    fails(result, 4, "does not serve replicas", "pipl proj start")
    assert not made
