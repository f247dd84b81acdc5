"""``pipl proj user``: the project server's users (an administrator's task).

These commands apply the rules of ``pipl.index.users`` with devpi's root login, as the
API's ``users.*`` operations do, but not through them: ``list`` is for anyone (devpi
shows its users to anyone; the API's ``users.list`` is the owner's), ``set`` has no
operation (a new password of root or the owner is written to the project's secrets on
this machine), and ``add`` and ``remove`` tell a user without root's login how to act
as root ('pipl proj login root'), where the API's owner check can only refuse."""

from __future__ import annotations

import click

from pipl.cli.output import emit_json, read_password, table
from pipl.cli.state import AppState, pass_state


@click.group()
def user() -> None:
    """Users of the project's server: list, add, set (password, email), remove."""


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def list_users(state: AppState, as_json: bool) -> None:
    """List users and the indexes they own.

    \b
    Example:
      pipl proj user list --json
    """
    from pipl.index.users import list_users as users_of

    with state.client("anonymous") as client:
        users = users_of(client)
    if as_json:
        emit_json("users", [u.to_dict() for u in users])
        return
    table([(u.name, u.email, u.indexes) for u in users], ["USER", "EMAIL", "INDEXES"])


@user.command()
@click.argument("name")
@click.option("--email", help="The user's e-mail address.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@pass_state
def add(state: AppState, name: str, email: str | None, password_stdin: bool) -> None:
    """Add user NAME (the password is prompted for, or read with --password-stdin).

    \b
    Example:
      pipl proj user add alice --email alice@studio.example
      echo "$ALICE_PASSWORD" | pipl proj user add alice --password-stdin
    """
    from pipl import names
    from pipl.index.users import add_user

    names.check_user(name)
    password = read_password(password_stdin)
    with state.client("admin") as client:
        add_user(client, name, password, email=email)
    click.echo(f"Added user {name!r}.")


@user.command("set")
@click.argument("name")
@click.option("--email", help="New e-mail address.")
@click.option(
    "--password",
    "change_password",
    is_flag=True,
    help="Change the password (prompted for, or read with --password-stdin).",
)
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@pass_state
def set_user(
    state: AppState, name: str, email: str | None, change_password: bool, password_stdin: bool
) -> None:
    """Change user NAME's password and/or e-mail.

    A new password ends NAME's earlier logins: they log in again. For root and the
    project's owner, the project's secrets get the new password too.

    \b
    Example:
      pipl proj user set alice --password
      pipl proj user set alice --email alice@studio.example
    """
    from pipl import names
    from pipl.errors import UsageError
    from pipl.index.users import change_user

    names.check_user(name)
    if not (email or change_password or password_stdin):
        raise UsageError("nothing to change: give --password and/or --email")
    password = (
        read_password(password_stdin, prompt="New password")
        if (change_password or password_stdin)
        else None
    )
    with state.client("admin") as client:
        change = change_user(state.project(), client, name, password=password, email=email)
    click.echo(f"Changed {' and '.join(change.changed)} of {name!r}.")


@user.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def remove(state: AppState, name: str, yes: bool) -> None:
    """Remove user NAME and the volatile indexes they own.

    \b
    Example:
      pipl proj user remove alice --yes
    """
    from pipl.index.users import check_removable, remove_user

    project = state.project()
    check_removable(project, name)
    if not yes:
        click.confirm(f"Remove user {name!r} and their indexes?", abort=True)
    with state.client("admin") as client:
        remove_user(project, client, name)
    click.echo(f"Removed user {name!r}.")
