"""Users of the project's server, through the CLI and the client."""

import json

import pytest

from pipl.errors import AuthError, Conflict, UsageError
from pipl.index.client import IndexClient
from pipl.index.session import logged_in_user, user_token_cache
from tests.helpers import fails, run


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


def test_password_prompt_asks_twice(cli):
    result = cli("proj", "user", "add", "leo", input="pw-leo\npw-leo\n")
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    cli("proj", "user", "remove", "leo", "--yes")


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
