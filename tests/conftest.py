"""Shared fixtures: a hermetic environment and one real devpi-server per test session."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipl.index.client import IndexClient
from pipl.index.session import connect
from pipl.index.stages import create_default
from pipl.project import server
from pipl.project.create import create_project
from pipl.project.project import Project

# the browser tests' fixtures (tests/browser.py); PostgreSQL (tests/pgserver.py)
pytest_plugins = ["browser", "pgserver"]

# Test-only: devpi derives its token secret with argon2 at start; these parameters make
# that take milliseconds instead of seconds. Production projects keep devpi's defaults.
FAST_ARGON2 = ["--argon2-memory-cost", "8", "--argon2-time-cost", "1", "--argon2-parallelism", "1"]

_ENV_DROP = (
    "PIPL_PROJECT",
    "PIP_FIND_LINKS",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CONSTRAINT",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_INDEX",
    "UV_DEFAULT_INDEX",
    "UV_FIND_LINKS",
    "VIRTUAL_ENV",
)


@pytest.fixture(scope="session", autouse=True)
def hermetic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temporary HOME and config folders; pip and uv ignore this machine's settings."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        mp.setenv("PIP_CONFIG_FILE", os.devnull)
        mp.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        mp.setenv("UV_NO_CONFIG", "1")
        for name in _ENV_DROP:
            mp.delenv(name, raising=False)
        yield home


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_project(path: Path, *, default_gates: bool = False, **kwargs: object) -> Project:
    """An offline project with fast test argon2 parameters, on a free port."""
    kwargs.setdefault("pypi_mirror", False)
    kwargs.setdefault("port", free_port())
    kwargs.setdefault("server_args", FAST_ARGON2)
    proj = create_project(path, **kwargs)  # type: ignore[arg-type]  # keyword pass-through
    # the dashboard of a test project listens on a free port (port + 1 may be taken);
    # its stage gates are open (promotion's own checks are tested on their own), unless
    # the test asks for the defaults (tests/test_gates.py)
    with (proj.root / "pipl.toml").open("a") as toml:
        toml.write("\n[web]\nport = 0\n")
        if not default_gates:
            toml.write("\n[gates.qa]\n[gates.prod]\n")
    return proj


@pytest.fixture(scope="session")
def project(
    tmp_path_factory: pytest.TempPathFactory, hermetic: Path, request: pytest.FixtureRequest
) -> Iterator[Project]:
    """The session's project: its server running, default indexes created. With
    ``PIPL_TEST_STORAGE=postgresql`` its index lives in the session's PostgreSQL."""
    storage: dict[str, object] = {}
    if os.environ.get("PIPL_TEST_STORAGE") == "postgresql":
        settings, password = request.getfixturevalue("pg_server").new_database("studio")
        storage = {"postgresql": settings, "storage_password": password}
    proj = new_project(tmp_path_factory.mktemp("projects") / "studio", **storage)
    with server.running(proj):
        with connect(proj, "admin") as admin:
            create_default(proj, admin)
        yield proj


@pytest.fixture(scope="session")
def web(project: Project) -> Iterator[str]:
    """The session project's dashboard and HTTP API, served in this process; its URL."""
    from pipl.web.server import WebServer

    server = WebServer(project)
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
def admin(project: Project) -> Iterator[IndexClient]:
    with connect(project, "admin") as client:
        yield client


@pytest.fixture
def owner(project: Project) -> Iterator[IndexClient]:
    with connect(project, "owner") as client:
        yield client


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path for fake installed distributions (see tests/fakedists.py);
    modules imported from it are forgotten afterwards."""
    import sys

    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(str(site)):
            del sys.modules[name]


@pytest.fixture(scope="session")
def ciproj(tmp_path_factory: pytest.TempPathFactory, hermetic: Path) -> Iterator[Project]:
    """A project of the CI tests' own (their runner takes every event on its server)."""
    from pipl.ci import service

    proj = new_project(tmp_path_factory.mktemp("ci") / "cip")
    with server.running(proj):
        with connect(proj, "admin") as admin:
            create_default(proj, admin)
        yield proj
        service.stop(proj)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3 API for the session: moto's server on loopback (tests/s3server.py)."""
    from tests.s3server import moto_server

    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


@pytest.fixture
def s3_bucket(s3_endpoint: str, hermetic: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new bucket of the session's S3 server, and the environment that reaches it (the
    credentials as a user sets them); its name."""
    import uuid

    from tests.s3server import make_bucket, s3_environment

    for name in [n for n in os.environ if n.startswith("AWS_")]:  # this machine's own
        monkeypatch.delenv(name)
    for name, value in s3_environment(s3_endpoint, hermetic).items():
        monkeypatch.setenv(name, value)
    bucket = f"pipl-{uuid.uuid4().hex[:12]}"
    make_bucket(bucket)
    yield bucket
