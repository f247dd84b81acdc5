"""Server lifecycle on a project of its own: start, status, stop, and what goes wrong."""

import contextlib
import signal
import socket
import subprocess
import sys
import time

import pytest

from pipl.errors import PortBusy, ServerError, ServerNotRunning
from pipl.index.status import server_status
from pipl.project import server
from pipl.project.project import Project
from tests.conftest import new_project
from tests.helpers import fails, run


@pytest.fixture(scope="module")
def life(tmp_path_factory, hermetic) -> Project:
    """A project whose server each test starts and stops itself."""
    return new_project(tmp_path_factory.mktemp("life") / "life")


@pytest.fixture(autouse=True)
def _stopped(life):
    yield
    with contextlib.suppress(ServerNotRunning):
        server.stop(life)
    assert server.read_pid(life) is None


def _pid_alive(pid):
    return server._is_alive(pid)


def test_cli_start_detached_status_stop(life):
    result = run(["proj", "start", "--detach"], project=life.root)
    assert result.exit_code == 0, result.output
    assert f"Server ready at {life.url}" in result.output
    pid = server.read_pid(life)
    assert pid and _pid_alive(pid)

    result = run(["proj", "status", "--json"], project=life.root)
    import json

    payload = json.loads(result.output)
    assert payload["version"] == 1 and payload["kind"] == "status"
    data = payload["data"]
    assert data["running"] is True and data["pid"] == pid and data["url"] == life.url
    assert isinstance(data["serial"], int) and isinstance(data["event_serial"], int)
    assert data["plugin"] is True  # pipl's devpi plugin is loaded

    fails(run(["proj", "start", "--detach"], project=life.root), 4, "already running")

    result = run(["proj", "stop"], project=life.root)
    assert result.exit_code == 0 and f"pid {pid}" in result.output
    assert not _pid_alive(pid)
    assert not life.pidfile.exists()
    result = run(["proj", "status"], project=life.root)
    assert "not running" in result.output


def test_stop_and_client_when_not_running(life):
    fails(run(["proj", "stop"], project=life.root), 4, "not running")
    fails(
        run(["proj", "user", "list"], project=life.root), 4, "no server answers", "pipl proj start"
    )
    assert server_status(life).running is False


def test_busy_port_is_a_clear_error_and_leaves_no_process(life):
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((life.config.host, life.config.port))
        sock.listen()
        with pytest.raises(PortBusy, match=f"port {life.config.port}"):
            server.start_detached(life)
        fails(run(["proj", "start", "--detach"], project=life.root), 4, "already in use")
    assert not life.pidfile.exists()


def test_stale_pid_file(life):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    life.run_dir.mkdir(parents=True, exist_ok=True)
    life.pidfile.write_text(f"{dead.pid}\n")
    fails(run(["proj", "stop"], project=life.root), 4, "stale pid file", str(dead.pid))
    assert not life.pidfile.exists()

    life.pidfile.write_text(f"{dead.pid}\n")
    result = run(["proj", "start", "--detach"], project=life.root)
    assert result.exit_code == 0
    assert f"Removed a stale pid file (pid {dead.pid}" in result.output


def test_server_dying_during_start(tmp_path):
    broken = new_project(tmp_path / "broken", server_args=["--no-such-devpi-option"])
    started = time.monotonic()
    with pytest.raises(ServerError, match="exited while starting") as info:
        server.start_detached(broken)
    assert "no-such-devpi-option" in str(info.value) or "server.log" in str(info.value)
    assert time.monotonic() - started < 30
    assert not broken.pidfile.exists()


def test_running_context_manager(life):
    with server.running(life) as started:
        assert server_status(life).pid == started.pid
    assert not _pid_alive(started.pid)


def test_foreground_start_stops_cleanly_on_ctrl_c(life):
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipl.cli", "--project", str(life.root), "proj", "start"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not server._answers(life.url):
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.1)
        pid = server.read_pid(life)
        assert pid is not None
        # Ctrl-C in a terminal signals the whole foreground process group
        import os

        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "Server stopped" in out
    assert not _pid_alive(pid)
    assert not life.pidfile.exists()
