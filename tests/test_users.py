"""Users of the project's server, through the CLI and the client."""

import base64
import json

import httpx
import pytest

from pipl.errors import AuthError, Conflict, UsageError
from pipl.index.client import IndexClient
from pipl.index.session import connect, logged_in_user, user_token_cache
from pipl.index.users import change_user, list_users, remove_user
from tests.helpers import fails, make_wheel, run, run_in_terminal, run_process


@pytest.fixture
def cli(project):
    def invoke(*args, input=None):
        return run(list(args), input=input, project=project.root)

    return invoke


def test_add_list_login_change_password_remove(cli, project):
    result = cli(
        "proj",
        "user",
        "add",
        "maya",
        "--email",
        "maya@studio.example",
        "--password-stdin",
        input="first-secret\n",
    )
    assert result.exit_code == 0, result.output

    listing = json.loads(cli("proj", "user", "list", "--json").output)
    assert listing["kind"] == "users"
    users = {u["name"]: u for u in listing["data"]}
    assert users["maya"]["email"] == "maya@studio.example"
    # (other tests add indexes of their own beside the project's)
    assert {"base", "dev", "qa", "prod"} <= set(users[project.owner]["indexes"])

    fails(
        cli("proj", "login", "maya", "--password-stdin", input="wrong\n"),
        5,
        "login as 'maya' failed",
        "wrong user name or password",
    )
    assert cli("proj", "login", "maya", "--password-stdin", input="first-secret\n").exit_code == 0
    assert logged_in_user(project) == "maya"

    result = cli("proj", "user", "set", "maya", "--password-stdin", input="second-secret\n")
    assert result.exit_code == 0 and "password" in result.output
    fails(cli("proj", "login", "maya", "--password-stdin", input="first-secret\n"), 5, "failed")
    assert cli("proj", "login", "maya", "--password-stdin", input="second-secret\n").exit_code == 0
    assert cli("proj", "logout").exit_code == 0
    assert logged_in_user(project) is None

    assert cli("proj", "user", "set", "maya", "--email", "m@x.example").exit_code == 0
    assert "m@x.example" in cli("proj", "user", "list").output

    assert cli("proj", "user", "remove", "maya", "--yes").exit_code == 0
    assert "maya" not in cli("proj", "user", "list").output


def test_user_errors(cli, project):
    fails(
        cli("proj", "user", "add", "bad/name", "--password-stdin", input="x\n"),
        2,
        "invalid user name",
    )
    fails(
        cli("proj", "user", "add", project.owner, "--password-stdin", input="pw\n"),
        5,
        "user already exists",
    )
    fails(cli("proj", "user", "remove", "root", "--yes"), 2, "needed by the project")
    fails(cli("proj", "user", "remove", "nobody-here", "--yes"), 5, "nobody-here")
    fails(cli("proj", "user", "set", "root"), 2, "nothing to change")
    fails(
        cli("proj", "user", "add", "empty", "--password-stdin", input="\n"),
        2,
        "no password on stdin",
    )


def test_password_prompt_asks_twice_on_a_terminal(cli, project):
    code, output = run_in_terminal(
        ["proj", "user", "add", "leo"],
        [("Password:", "pw-leo"), ("Repeat for confirmation:", "pw-leo")],
        project=project.root,
    )
    assert code == 0, output
    assert "Added user 'leo'" in output and "pw-leo" not in output  # typed, not echoed
    assert "leo" in cli("proj", "user", "list").output
    cli("proj", "user", "remove", "leo", "--yes")


def test_password_without_a_terminal_is_one_line(project):
    for args in (["proj", "user", "add", "nina"], ["proj", "login", "nina"]):
        fails(run_process(args, project=project.root), 2, "no terminal", "--password-stdin")
    fails(
        run_process(["proj", "user", "set", "root", "--password"], project=project.root),
        2,
        "--password-stdin",
    )


def test_login_token_is_reused_not_the_password(project):
    with IndexClient(project.url) as client:
        token = client.login("root", project.secrets.password("root"))
        assert client.whoami() == "root"
        assert token.fresh
    with IndexClient(project.url, token=token) as again:
        assert again.whoami() == "root"  # no password sent
    with IndexClient(project.url) as anonymous:
        assert anonymous.whoami() is None
        with pytest.raises(AuthError, match="wrong user name or password"):
            anonymous.login("root", "not-the-password")
        with pytest.raises(AuthError):
            anonymous.create_user("intruder", "pw")
        with pytest.raises(UsageError):
            anonymous.login("../root", "x")


def test_cached_tokens_live_in_private_files(project, admin):
    import stat

    path = project.secrets.tokens.path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert project.secrets.tokens.get(project.url, "root") is not None
    user_file = user_token_cache().path
    if user_file.exists():
        assert stat.S_IMODE(user_file.stat().st_mode) == 0o600


def test_client_user_conflict(admin):
    admin.create_user("twice", "pw")
    with pytest.raises(Conflict, match="already exists"):
        admin.create_user("twice", "pw")
    admin.delete_user("twice")


def _auth_header(user, token):
    return base64.b64encode(f"{user}:{token.token}".encode()).decode()


def _raw_upload(project, wheel, headers):
    with wheel.open("rb") as fh:
        return httpx.post(
            f"{project.url}/{project.stage_index()}/",
            data={":action": "file_upload", "name": "revoked-probe", "version": "1.0"},
            files={"content": (wheel.name, fh)},
            headers={"Accept": "application/json", **headers},
        )


def test_password_change_revokes_earlier_logins_on_the_server(project, admin, tmp_path):
    admin.create_user("rita", "rita-1")
    with IndexClient(project.url) as rita:
        old = rita.login("rita", "rita-1")
        assert rita.whoami() == "rita"
    change_user(project, admin, "rita", password="rita-2")

    with (
        IndexClient(project.url, token=old) as stale,
        pytest.raises(AuthError, match="login of 'rita' is no longer valid.*pipl proj login rita"),
    ):
        stale.whoami()
    # the server itself treats the old token as no login at all, for devpi's header and
    # for HTTP basic auth (pip, twine)
    wheel = make_wheel(tmp_path, "revoked-probe", "1.0")
    basic = "Basic " + _auth_header("rita", old)
    for headers in ({"X-Devpi-Auth": _auth_header("rita", old)}, {"Authorization": basic}):
        api = httpx.get(f"{project.url}/+api", headers={"Accept": "application/json", **headers})
        assert api.headers["X-Pipl-Auth"] == "revoked"
        assert api.json()["result"]["authstatus"][0] == "noauth"
        refused = _raw_upload(project, wheel, headers)
        assert refused.status_code in (401, 403) and refused.headers["X-Pipl-Auth"] == "revoked"

    with IndexClient(project.url) as rita:
        new = rita.login("rita", "rita-2")  # right after the change: a valid login
        assert rita.whoami() == "rita"
    assert _raw_upload(project, wheel, {"X-Devpi-Auth": _auth_header("rita", new)}).is_success

    # a user removed and created again does not inherit the old user's logins
    remove_user(project, admin, "rita")
    admin.create_user("rita", "rita-3")
    with IndexClient(project.url, token=new) as stale, pytest.raises(AuthError):
        stale.whoami()
    remove_user(project, admin, "rita")


def test_user_rules_live_in_the_library(project, admin):
    for name in ("root", project.owner):
        with pytest.raises(UsageError, match="needed by the project"):
            remove_user(project, admin, name)
    with pytest.raises(UsageError, match="nothing to change"):
        change_user(project, admin, project.owner)

    old = project.secrets.password(project.owner)
    change = change_user(project, admin, project.owner, password="owner-new-pw")
    try:
        assert change.secrets_updated and change.changed == ["password"]
        assert project.secrets.password(project.owner) == "owner-new-pw"
        assert project.secrets.tokens.get(project.url, project.owner) is None
        with connect(project, "owner") as owner:  # logs in again from the secrets
            assert owner.whoami() == project.owner
    finally:
        change_user(project, admin, project.owner, password=old)
    users = {u.name: u for u in list_users(admin)}
    assert set(users[project.owner].indexes) >= {"base", "dev"} and users["root"].indexes == []
