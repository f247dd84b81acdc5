"""The server enforces pipl's release rules for every client: twine, devpi-client and
plain HTTP, not only pipl's own client (pipl.devpi_rules, pipl.devpi_guard)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipl.ci.config import CI_USER_SUFFIX, ci_user
from pipl.devpi_rules import CI_USER_SUFFIX as RULES_CI_SUFFIX
from pipl.index.client import IndexClient
from pipl.index.session import connect
from tests.helpers import make_wheel, run

BIN = Path(sys.executable).parent
BOB, CAROL = "rules-bob", "rules-carol"
PASSWORDS = {BOB: "bob-secret-1", CAROL: "carol-secret-1"}


@pytest.fixture(scope="module")
def users(project) -> Iterator[dict[str, str]]:
    """Two users besides the owner, allowed to upload to the first (shared) stage."""
    with connect(project, "admin") as admin:
        for name, password in PASSWORDS.items():
            if name not in admin.users():
                admin.create_user(name, password)
        yield PASSWORDS
        for name in PASSWORDS:
            admin.delete_user(name)


def twine(url: str, user: str, password: str, wheel: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN / "twine", "upload", "--non-interactive", "--repository-url", f"{url}/", wheel],
        capture_output=True,
        text=True,
        env={**os.environ, "TWINE_USERNAME": user, "TWINE_PASSWORD": password},
    )


class Devpi:
    """devpi-client with a client folder of its own, logged in as one user."""

    def __init__(self, tmp_path: Path, url: str, user: str, password: str) -> None:
        self.env = {
            "DEVPI_CLIENTDIR": str(tmp_path / f"devpi-{user}"),
            "PATH": str(BIN),
            "HOME": str(tmp_path),
        }
        self("use", url).check_returncode()
        self("login", user, f"--password={password}").check_returncode()

    def __call__(self, *argv: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BIN / "devpi", *map(str, argv)], capture_output=True, text=True, env=self.env
        )


def said(proc: subprocess.CompletedProcess[str]) -> str:
    """What a client printed, on one line (twine wraps its messages)."""
    return " ".join((proc.stdout + proc.stderr).split())


def served_sha256(url: str, filename: str) -> str:
    """The sha256 of the bytes the index serves under ``filename``."""
    with IndexClient(url.rsplit("/", 2)[0]) as anon:
        index = "/".join(url.rsplit("/", 2)[1:])
        name = filename.split("-")[0].replace("_", "-")
        href = next(
            lk.href
            for lk in anon.release_files(index, name, filename.split("-")[1])
            if lk.basename == filename
        )
        return hashlib.sha256(httpx.get(href).content).hexdigest()


def maintainers(project, project_name: str) -> list[str]:
    result = run(["proj", "index", "maintainers", project_name, "--json"], project=project.root)
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output)["data"]["maintainers"])


def test_the_rules_know_pipls_ci_user():
    assert RULES_CI_SUFFIX == CI_USER_SUFFIX


def test_other_content_under_a_released_name_is_refused_for_every_client(
    project, owner, users, tmp_path
):
    dev = project.stage_index()
    url = f"{project.url}/{dev}"
    mine = make_wheel(tmp_path / "owner", "rules-one", "1.0", body="OWNER = 1\n")
    other = make_wheel(tmp_path / "other", "rules-one", "1.0", body="OTHER = 2\n")
    assert mine.name == other.name
    owner.upload(dev, mine)
    # bob maintains the project, so only the file rule stands between him and the upload
    added = run(["proj", "index", "maintainers", "rules-one", "--add", BOB], project=project.root)
    assert added.exit_code == 0, added.output

    refused = twine(url, BOB, users[BOB], other)
    assert refused.returncode != 0
    assert f"{other.name} is already on {dev} with other content" in said(refused)
    assert "bump the version of rules-one" in said(refused)
    devpi = Devpi(tmp_path, url, BOB, users[BOB])
    upload = devpi("upload", "--from-dir", other.parent)
    assert upload.returncode != 0 and "already on" in said(upload)
    assert served_sha256(url, mine.name) == hashlib.sha256(mine.read_bytes()).hexdigest()
    # the same bytes again: accepted, as before
    assert twine(url, BOB, users[BOB], mine).returncode == 0


def test_a_name_released_on_a_later_stage_is_refused_on_the_first(project, owner, tmp_path):
    dev, qa = project.stage_index(), project.stage_indexes[1]
    released = make_wheel(tmp_path / "a", "rules-two", "1.0", body="A = 1\n")
    owner.upload(dev, released)
    owner.push(dev, "rules-two", "1.0", qa)
    owner.delete_version(dev, "rules-two", "1.0")
    other = make_wheel(tmp_path / "b", "rules-two", "1.0", body="B = 2\n")
    password = project.secrets.password(project.owner) or ""
    refused = twine(f"{project.url}/{dev}", project.owner, password, other)
    assert refused.returncode != 0
    assert f"{other.name} is already on {qa} with other content" in said(refused)


def test_replace_on_the_first_stage_stays_with_the_maintainers(project, owner, users, tmp_path):
    dev = project.stage_index()
    first = make_wheel(tmp_path / "a", "rules-three", "1.0", body="A = 1\n")
    second = make_wheel(tmp_path / "b", "rules-three", "1.0", body="B = 2\n")
    owner.upload(dev, first)
    assert owner.upload(dev, second, replace=True).replaced
    with IndexClient(project.url) as bob:
        bob.login(BOB, users[BOB])
        with pytest.raises(Exception, match="may not upload rules-three"):
            bob.upload(dev, first, replace=True)
    url = f"{project.url}/{dev}"
    assert served_sha256(url, second.name) == hashlib.sha256(second.read_bytes()).hexdigest()


def test_a_project_belongs_to_its_maintainers(project, users, tmp_path):
    dev = project.stage_index()
    url = f"{project.url}/{dev}"
    assert (
        twine(url, BOB, users[BOB], make_wheel(tmp_path / "1", "rules-bobs", "1.0")).returncode == 0
    )
    assert maintainers(project, "rules-bobs") == [BOB]

    newer = make_wheel(tmp_path / "2", "rules-bobs", "1.1")
    refused = twine(url, CAROL, users[CAROL], newer)
    assert refused.returncode != 0
    assert f"{CAROL} may not upload rules-bobs on {dev}" in said(refused)
    assert BOB in said(refused) and project.owner in said(refused)
    carol = Devpi(tmp_path, url, CAROL, users[CAROL])
    upload = carol("upload", "--from-dir", newer.parent)
    assert upload.returncode != 0 and "may not upload rules-bobs" in said(upload)

    # a maintainer adds carol: her upload goes through
    with IndexClient(project.url) as bob:
        bob.login(BOB, users[BOB])
        headers = {"Accept": "application/json", "X-Devpi-Auth": _auth(bob)}
        changed = httpx.patch(
            f"{url}/+pipl/maintainers/rules-bobs", json={"add": [CAROL]}, headers=headers
        )
        assert changed.status_code == 200, changed.text
    assert maintainers(project, "rules-bobs") == [BOB, CAROL]
    assert twine(url, CAROL, users[CAROL], newer).returncode == 0


def _auth(client: IndexClient) -> str:
    assert client.token is not None
    return base64.b64encode(f"{client.token.user}:{client.token.token}".encode()).decode()


def test_only_maintainers_change_the_maintainers(project, users, tmp_path):
    dev = project.stage_index()
    url = f"{project.url}/{dev}"
    assert twine(url, BOB, users[BOB], make_wheel(tmp_path, "rules-keep", "1.0")).returncode == 0
    with IndexClient(project.url) as carol:
        carol.login(CAROL, users[CAROL])
        headers = {"Accept": "application/json", "X-Devpi-Auth": _auth(carol)}
        refused = httpx.patch(
            f"{url}/+pipl/maintainers/rules-keep", json={"add": [CAROL]}, headers=headers
        )
    assert refused.status_code == 403
    assert "may not change the maintainers of rules-keep" in refused.json()["message"]
    assert maintainers(project, "rules-keep") == [BOB]


def test_a_non_maintainer_cannot_delete(project, users, tmp_path):
    dev = project.stage_index()
    url = f"{project.url}/{dev}"
    wheel = make_wheel(tmp_path, "rules-del", "1.0")
    assert twine(url, BOB, users[BOB], wheel).returncode == 0
    carol = Devpi(tmp_path, url, CAROL, users[CAROL])
    removed = carol("remove", "-y", "rules-del==1.0")
    assert removed.returncode != 0
    assert "may not delete from rules-del" in said(removed)
    with IndexClient(project.url) as client:
        client.login(CAROL, users[CAROL])
        (link,) = client.release_files(dev, "rules-del", "1.0")
        headers = {"Accept": "application/json", "X-Devpi-Auth": _auth(client)}
        for target in (link.href, f"{url}/rules-del/1.0", f"{url}/rules-del"):
            answer = httpx.delete(target, headers=headers)
            assert answer.status_code == 403, (target, answer.text)
    assert served_sha256(url, wheel.name) == hashlib.sha256(wheel.read_bytes()).hexdigest()
    # bob, the maintainer, can
    bob = Devpi(tmp_path, url, BOB, users[BOB])
    assert bob("remove", "-y", "rules-del==1.0").returncode == 0


def test_owner_root_and_ci_user_work_as_before(project, owner, users, tmp_path):
    dev, qa = project.stage_index(), project.stage_indexes[1]
    url = f"{project.url}/{dev}"
    # bob's project: the owner, root and the CI user (acting for the owner) maintain it too
    assert (
        twine(url, BOB, users[BOB], make_wheel(tmp_path / "1", "rules-all", "1.0")).returncode == 0
    )
    password = project.secrets.password(project.owner) or ""
    assert (
        twine(
            url, project.owner, password, make_wheel(tmp_path / "2", "rules-all", "1.1")
        ).returncode
        == 0
    )
    root = Devpi(tmp_path, url, "root", project.secrets.password("root") or "")
    assert (
        root(
            "upload", "--from-dir", make_wheel(tmp_path / "3", "rules-all", "1.2").parent
        ).returncode
        == 0
    )
    ci = ci_user(project)
    ci_client = Devpi(tmp_path, url, ci, project.secrets.password(ci) or "")
    # as the wheel handler does: the CI user uploads a file of bob's project for the owner
    ci_wheel = make_wheel(tmp_path / "4", "rules-all", "1.3")
    assert twine(url, ci, project.secrets.password(ci) or "", ci_wheel).returncode == 0
    pushed = ci_client("push", "rules-all==1.1", qa)
    assert pushed.returncode == 0, said(pushed)
    assert root("remove", "-y", "rules-all==1.2").returncode == 0
    owner.delete_version(dev, "rules-all", "1.0")
    with IndexClient(project.url) as anon:
        assert [lk.index for lk in anon.release_files(qa, "rules-all", "1.1")] == [qa]
    assert maintainers(project, "rules-all") == [BOB]


def test_the_api_lists_and_changes_maintainers_as_the_caller(project, web, users, tmp_path):
    from pipl import Client
    from pipl.errors import AuthError

    url = f"{project.url}/{project.stage_index()}"
    assert twine(url, BOB, users[BOB], make_wheel(tmp_path, "rules-api", "1.0")).returncode == 0
    with Client(web) as carol:
        carol.login(CAROL, users[CAROL])
        found = carol.releases.maintainers("dev", "rules-api")
        assert (found.stage, found.maintainers) == ("dev", [BOB])
        assert project.owner in found.implicit
        with pytest.raises(AuthError, match="may not change the maintainers of rules-api"):
            carol.releases.change_maintainers("dev", "rules-api", add=[CAROL])
    with Client(web) as bob:
        bob.login(BOB, users[BOB])
        changed = bob.releases.change_maintainers("dev", "Rules_API", add=[CAROL])
        assert changed.maintainers == [BOB, CAROL]
        assert bob.releases.change_maintainers("dev", "rules-api", remove=[BOB]).maintainers == [
            CAROL
        ]
    assert maintainers(project, "rules-api") == [CAROL]
