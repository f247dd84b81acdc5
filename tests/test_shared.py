"""A shared project: its files belong to the owner's OS account, an artist works from
another account that cannot read the owner's secrets.

The artist's commands run as a separate process that the kernel denies what another OS
user would be denied: as root, the project is handed to an unprivileged uid and the
artist's process is root without its file-permission capabilities (setpriv), so the
owner's 0700 folders are closed to it. (A real second account would need its own Python:
the test interpreter may live in root's home.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipl.index.session import connect
from pipl.index.stages import create_default
from pipl.project import server
from pipl.project.project import Project
from pipl.workspace.area import get_area
from tests.conftest import new_project
from tests.helpers import Proc, fails, run, run_process

OWNER_UID = 4243  # the project's owner account (no login needed for the test)
ARTIST_PASSWORD = "artist-first-pw"


def _drop_file_capabilities() -> list[str]:
    """argv prefix running a command without the right to bypass file permissions."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to act as a second user")
    return [setpriv, "--bounding-set=-all", "--inh-caps=-all"]


def _probe(wrapper: list[str], tmp: Path) -> None:
    closed = tmp / "closed"
    closed.mkdir()
    (closed / "secret").write_text("x")
    os.chown(closed, OWNER_UID, OWNER_UID)
    closed.chmod(0o700)
    probe = subprocess.run([*wrapper, "cat", str(closed / "secret")], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("setpriv could not take the file-permission capabilities away here")


def _chown_tree(root: Path, uid: int) -> None:
    for folder, dirs, files in os.walk(root):
        os.chown(folder, uid, uid)
        for name in [*dirs, *files]:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


@pytest.fixture(scope="module")
def wrapper(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    argv = _drop_file_capabilities()
    _probe(argv, tmp_path_factory.mktemp("probe"))
    return argv


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, hermetic: Path, wrapper) -> Iterator[Project]:
    """A running project with user 'artist', whose files belong to the owner's account.
    The default workarea is open for writing (a studio grants its group that)."""
    proj = new_project(tmp_path_factory.mktemp("shared") / "studio")
    with server.running(proj):
        with connect(proj, "admin") as admin:
            create_default(proj, admin)
            admin.create_user("artist", ARTIST_PASSWORD)
        get_area(proj).path.chmod(0o777)
        _chown_tree(proj.root, OWNER_UID)
        yield proj


@pytest.fixture(scope="module")
def artist(shared, wrapper, tmp_path_factory):
    """Run pipl as the artist: another account, with a home of its own."""
    home = tmp_path_factory.mktemp("artist-home")
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}

    def invoke(*args: str, input: str | None = None) -> Proc:
        result = run_process(list(args), project=shared.root, input=input, env=env, wrapper=wrapper)
        assert "Traceback" not in result.output, result.output
        return result

    return invoke


def test_the_artist_cannot_read_the_secrets(shared, artist, wrapper):
    secrets = shared.secrets.path
    probe = subprocess.run([*wrapper, "ls", str(secrets)], capture_output=True, text=True)
    assert probe.returncode != 0 and "Permission denied" in probe.stderr


def test_reading_commands_work_for_the_artist(shared, artist):
    status = artist("proj", "status")
    assert status.exit_code == 0, status.output
    assert "running" in status.stdout and f"{shared.owner}/dev" in status.stdout
    listing = artist("work", "list")
    assert listing.exit_code == 0, listing.output
    users = artist("proj", "user", "list")
    assert users.exit_code == 0 and "artist" in users.stdout
    indexes = artist("proj", "index", "list")
    assert indexes.exit_code == 0 and f"{shared.owner}/base" in indexes.stdout


def test_owner_commands_say_they_need_the_owner(shared, artist):
    needs_root = ("needs the project's administrator", "pipl proj login root")
    fails(artist("proj", "index", "create-default"), 5, *needs_root)
    added = artist("proj", "user", "add", "intruder", "--password-stdin", input="pw\n")
    fails(added, 5, *needs_root)
    fails(artist("proj", "start", "--detach"), 4, "only the project's owner can start or stop")
    fails(artist("proj", "stop"), 4, "only the project's owner can start or stop")
    assert server.read_pid(shared) is not None  # still running


def test_the_artist_works_with_their_own_login(shared, artist, owner_client):
    created = artist("work", "create", "anim")
    assert created.exit_code == 0, created.output
    assert artist("packl", "create", "artlib", "--kind", "lib", "-w", "anim").exit_code == 0
    fails(
        artist("packl", "publish", "-p", "artlib", "-w", "anim"),
        5,
        "not logged in",
        "pipl proj login USER",
    )
    login = artist("proj", "login", "artist", "--password-stdin", input=ARTIST_PASSWORD + "\n")
    assert login.exit_code == 0, login.output
    published = artist("packl", "publish", "-p", "artlib", "-w", "anim")
    assert published.exit_code == 0, published.output
    assert "0.1.0" in owner_client.versions(shared.stage_index(), "artlib")
    # the artist's login does not make them the administrator
    fails(artist("proj", "index", "create-default"), 5, "needs the project's administrator")


def test_a_password_reset_ends_the_artists_login(shared, artist):
    reset = run(
        ["proj", "user", "set", "artist", "--password-stdin"],
        input="artist-second-pw\n",
        project=shared.root,
    )
    assert reset.exit_code == 0, reset.output
    fails(
        artist("packl", "publish", "-p", "artlib", "-w", "anim"),
        5,
        "login of 'artist' is no longer valid",
        "pipl proj login artist",
    )
    fails(
        artist("proj", "login", "artist", "--password-stdin", input=ARTIST_PASSWORD + "\n"),
        5,
        "wrong user name or password",
    )
    again = artist("proj", "login", "artist", "--password-stdin", input="artist-second-pw\n")
    assert again.exit_code == 0, again.output
    published = artist("packl", "publish", "-p", "artlib", "-w", "anim")
    assert published.exit_code == 0 and "identical, skipped" in published.stdout


@pytest.fixture
def owner_client(shared):
    with connect(shared, "owner") as client:
        yield client


def test_the_artist_sees_the_runner_and_its_dashboard(shared, artist):
    from pipl.ci import service

    service.start_detached(shared)
    _chown_tree(shared.state_dir / "ci", OWNER_UID)  # its lock and database: the owner's, 0644
    try:
        status = artist("proj", "status")
        assert status.exit_code == 0, status.output
        assert "ci runner:    running" in status.stdout
        assert "dashboard:    http://127.0.0.1:" in status.stdout
        web = artist("proj", "web", "--no-browser")
        assert web.exit_code == 0 and web.stdout.startswith("http://127.0.0.1:")
    finally:
        service.stop(shared)
