"""Server lifecycle on a project of its own: start, status, stop, and what goes wrong."""

import contextlib
import http.server
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import ClassVar

import pytest

from pipl.errors import (
    IndexServerError,
    PortBusy,
    ServerError,
    ServerNotRunning,
    UsageError,
    WrongServer,
)
from pipl.index.client import IndexClient
from pipl.index.session import connect
from pipl.index.status import server_status
from pipl.project import server
from pipl.project.config import ProjectConfig
from pipl.project.project import Project
from tests.conftest import FAST_ARGON2, new_project
from tests.helpers import Proc, fails, pipl_argv, run


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
    # stopping what is not running is no error: it says so and exits 0 (twice, too)
    for _ in range(2):
        stopped = run(["proj", "stop"], project=life.root)
        assert stopped.exit_code == 0, stopped.output
        assert "Nothing to stop: the server of project" in stopped.output
        assert "is not running" in stopped.output and "Server stopped" not in stopped.output
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
    stopped = run(["proj", "stop"], project=life.root)
    assert stopped.exit_code == 0 and "Nothing to stop" in stopped.output
    assert f"stale pid file naming pid {dead.pid}" in stopped.output
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


def test_concurrent_starts_give_one_server(life):
    """Two real `pipl proj start --detach` at once: one starts the server, the other
    finds it running (the pid file is written under the start/stop lock)."""
    procs = [
        subprocess.Popen(
            pipl_argv(["proj", "start", "--detach"], life.root),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        results.append(Proc(proc.returncode, out, err))
    ready = [r for r in results if "Server ready" in r.stdout]
    assert len(ready) == 1, results
    [other] = [r for r in results if r is not ready[0]]
    fails(other, 4, "already running")
    pid = server.read_pid(life)
    assert pid is not None and f"pid {pid}" in ready[0].stdout
    assert life.pidfile.read_text() == f"{pid}\n"


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "1"],
        ["--port=1"],
        ["--po=1"],  # devpi takes unambiguous prefixes
        ["--host", "0.0.0.0"],  # noqa: S104 - refused, never bound
        ["--listen", "0.0.0.0:80"],
        ["--serverdir", "/tmp/elsewhere"],
        ["--serverd=/tmp/elsewhere"],
        ["--secretfile=/tmp/known"],
        ["--restrict-modify", "alice"],
        ["-c", "devpi.yml"],
        ["--outside-url", "https://pkg.example", "--passwd", "root"],
    ],
)
def test_server_args_cannot_override_pipl_flags(args):
    with pytest.raises(UsageError, match=r"\[server\] args may not contain .*pipl sets --"):
        ProjectConfig(name="x", server_args=tuple(args))


def test_server_args_refused_from_the_cli_and_from_pipl_toml(life, tmp_path):
    fails(
        run(["proj", "create", str(tmp_path / "p"), "--server-arg=--port=1"]),
        2,
        "'--port=1'",
        "pipl sets --port itself",
    )
    assert not (tmp_path / "p").exists()
    ProjectConfig(name="x", server_args=("--outside-url", "https://pkg.example", *FAST_ARGON2))

    toml = life.root / "pipl.toml"
    text = toml.read_text()
    try:
        toml.write_text(text.replace("args = [", 'args = ["--serverdir", "/tmp/x", '))
        fails(run(["proj", "start", "--detach"], project=life.root), 3, "'--serverdir'")
        assert server.read_pid(life) is None
    finally:
        toml.write_text(text)


def test_another_projects_server_on_the_port_gets_no_credentials(life, tmp_path):
    other = new_project(tmp_path / "other", port=life.config.port)
    with server.running(other):
        log_start = other.logfile.stat().st_size
        port = f"port {life.config.port}"
        where = f"another pipl project (at {other.root})"
        fails(run(["proj", "status"], project=life.root), 4, port, where)
        fails(run(["proj", "index", "create-default"], project=life.root), 4, port, where)
        fails(run(["proj", "user", "list"], project=life.root), 4, port)
        fails(
            run(["proj", "login", "root", "--password-stdin"], input="pw\n", project=life.root),
            4,
            "no credentials were sent",
        )
        with pytest.raises(WrongServer):
            connect(life, "admin")
        with other.logfile.open() as fh:
            fh.seek(log_start)
            seen = fh.read()
        assert "GET /+status" in seen  # asked who it is...
        assert "/+login" not in seen and "PUT" not in seen  # ...and told nothing
        # the other project itself is not disturbed
        assert server_status(other).running


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, bool]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.seen.append((self.command, self.path, "X-Devpi-Auth" in self.headers))
        self.send_error(404)

    do_GET = do_POST = do_PUT = do_PATCH = _answer

    def log_message(self, *args: object) -> None:
        pass


def _bind(make, seconds=10.0):
    """Bind a test listener to the project's port, which a busy machine may briefly lend
    to an outgoing connection while the project's server is stopped."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return make()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_plain_http_server_on_the_port(life):
    httpd = _bind(
        lambda: http.server.ThreadingHTTPServer((life.config.host, life.config.port), _Recorder)
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen.clear()
    try:
        what = "a program that is not devpi-server (HTTP 404 for /+status"
        fails(run(["proj", "status"], project=life.root), 4, what)
        fails(run(["proj", "index", "create-default"], project=life.root), 4, what)
        fails(
            run(["proj", "login", "root", "--password-stdin"], input="pw\n", project=life.root),
            4,
            what,
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert _Recorder.seen
    assert all(entry == ("GET", "/+status", False) for entry in _Recorder.seen), _Recorder.seen


def test_transport_errors_are_one_line(life, tmp_path):
    """A program on the port that takes connections and closes them without an answer."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((life.config.host, life.config.port))
        sock.listen(16)
        stop = threading.Event()

        def hang_up() -> None:
            sock.settimeout(0.2)
            while not stop.is_set():
                with contextlib.suppress(OSError):
                    conn, _ = sock.accept()
                    conn.settimeout(5)
                    conn.recv(65536)  # read the request, answer nothing
                    conn.close()

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        try:
            fails(run(["proj", "status"], project=life.root), 4, "no HTTP answer")
            with IndexClient(life.url) as client, pytest.raises(IndexServerError) as info:
                client.api()
            assert "the connection to" in str(info.value)
            assert "RemoteProtocolError" in str(info.value)
            # downloads too, and they leave no partial file
            dest = tmp_path / "x.whl"
            with IndexClient(life.url) as client, pytest.raises(IndexServerError) as info:
                client.download(f"{life.url}/studio/dev/+f/x.whl", dest)
            assert "the connection to" in str(info.value) and not dest.exists()
        finally:
            stop.set()
            thread.join()


def test_broken_pipl_toml_still_stops_the_server(life):
    assert run(["proj", "start", "--detach"], project=life.root).exit_code == 0
    pid = server.read_pid(life)
    toml = life.root / "pipl.toml"
    text = toml.read_text()
    try:
        toml.write_text(text + "\n[[[ broken\n")
        fails(run(["proj", "status"], project=life.root), 3, "not valid TOML")
        result = run(["proj", "stop"], project=life.root)
        assert result.exit_code == 0, result.output
        assert f"Server stopped (pid {pid})" in result.stdout
        assert "Warning:" in result.stderr and "not valid TOML" in result.stderr
        assert not _pid_alive(pid) and not life.pidfile.exists()
    finally:
        toml.write_text(text)


def test_misspelt_keys_in_pipl_toml_warn(life):
    toml = life.root / "pipl.toml"
    text = toml.read_text()
    try:
        toml.write_text(text.replace("[server]", "[server]\nprot = 8080") + "\n[sever]\nx = 1\n")
        result = run(["proj", "status"], project=life.root)
        assert result.exit_code == 0
        warnings = result.stderr.splitlines()
        assert "Warning: unknown key 'prot' in [server] of pipl.toml (did you mean 'port'?)" in (
            warnings
        )
        assert "Warning: unknown table [sever] in pipl.toml (did you mean [server]?)" in warnings
    finally:
        toml.write_text(text)
    assert run(["proj", "status"], project=life.root).stderr == ""
