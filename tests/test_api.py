"""pipl's client API, local and remote, and its HTTP JSON API: health, identity, login,
access rules and error answers, against the session's real server."""

from __future__ import annotations

import httpx
import pytest

from pipl import Client, PiplError
from pipl.errors import AuthError, NotFound, UsageError
from pipl.index.client import IndexClient
from pipl.project.project import Project

VISITOR = ("api-visitor", "visitor-pw-1")


@pytest.fixture(scope="module")
def visitor(project: Project) -> tuple[str, str]:
    from pipl.index.session import connect

    with connect(project, "admin") as admin:
        if VISITOR[0] not in admin.users():
            admin.create_user(*VISITOR)
    return VISITOR


def test_local_client_reports_health_and_identity(project: Project) -> None:
    with Client.from_project(project.root) as client:
        health = client.health()
        me = client.whoami()
    assert health.project == project.name and health.server_running
    assert health.serial is not None and health.serial >= 1
    assert set(health.jobs) >= {"queued", "running", "passed", "failed", "cancelled"}
    assert health.versions["pipl"] != "not installed"
    # this machine can read the project's secrets: it acts as the owner
    assert me.user == project.owner and me.is_owner


def test_remote_client_is_anonymous_until_it_logs_in(project: Project, web: str, visitor) -> None:
    with Client(web) as client:
        assert client.whoami().user is None
        answer = client.login(*visitor)
        assert answer.user == visitor[0] and answer.token
        me = client.whoami()
        assert me.user == visitor[0] and not me.is_owner
    # the token alone authenticates a new client, as it would on another machine
    with Client(web, token=answer.token) as again:
        assert again.whoami().user == visitor[0]
        again.logout()
        assert again.whoami().user is None


def test_a_wrong_password_is_one_auth_error(web: str, visitor) -> None:
    with Client(web) as client, pytest.raises(AuthError, match="wrong user name or password"):
        client.login(visitor[0], "not-the-password")


def test_a_forged_token_is_refused(web: str) -> None:
    import base64

    forged = base64.b64encode(b"root:made-up").decode()
    with Client(web, token=forged) as client, pytest.raises(AuthError, match="not valid"):
        client.whoami()


def test_http_errors_name_their_kind(web: str) -> None:
    answer = httpx.get(f"{web}/api/v1/no-such-thing")
    assert answer.status_code == 404
    assert answer.json()["error"]["kind"] == "NotFound"
    answer = httpx.post(f"{web}/api/v1/health")
    assert answer.status_code == 405
    answer = httpx.get(f"{web}/api/v1/health", params={"bogus": "1"})
    assert answer.status_code == 400 and "takes no parameter 'bogus'" in answer.text


def test_unknown_operation_is_not_found_through_the_client(web: str, project: Project) -> None:
    from pipl.api.ops import PREFIX, Route

    nope = Route("health.nope", "GET", f"{PREFIX}/health/nope")
    with Client(web) as client, pytest.raises(NotFound):
        client.send(nope, {})  # over HTTP: the server routes nothing there
    with Client.from_project(project.root) as client, pytest.raises(NotFound):
        client.send(nope, {})  # in this process: no such operation


def test_a_client_without_server_says_what_to_do() -> None:
    with Client("http://127.0.0.1:9", timeout=2) as client, pytest.raises(PiplError) as err:
        client.health()
    assert "pipl proj start" in str(err.value)


def test_parameters_are_converted_and_checked(project: Project) -> None:
    from pipl.api.service import coerce

    def handler(ctx: object, limit: int = 5, follow: bool = False, names: list[str] | None = None):
        return limit

    assert coerce("x", handler, {"limit": "7", "follow": "true", "names": "a,b"}) == {
        "limit": 7,
        "follow": True,
        "names": ["a", "b"],
    }
    with pytest.raises(UsageError, match="'limit' must be of type int"):
        coerce("x", handler, {"limit": "many"})


def test_the_index_client_is_not_needed_remotely() -> None:
    # pipl.Client imports no devpi-server code: a remote machine needs only httpx
    import subprocess
    import sys

    code = (
        "import sys\nfrom pipl import Client\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('devpi_server', 'pyramid')]\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert IndexClient  # the local transport uses it, the remote one does not
