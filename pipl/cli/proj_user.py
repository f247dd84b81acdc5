"""``pipl proj user``: the project server's users (an administrator's task)."""

from __future__ import annotations

import click

from pipl.cli.output import emit_json, read_password, table
from pipl.cli.state import AppState, boundary, pass_state
from pipl.errors import UsageError


@click.group()
def user() -> None:
    """Users of the project's server: list, add, set (password, email), remove."""


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
@boundary
def list_users(state: AppState, as_json: bool) -> None:
    """List users and the indexes they own."""
    with state.client("anonymous") as client:
        users = client.users()
    rows = [
        {"name": name, "email": cfg.get("email", ""), "indexes": sorted(cfg.get("indexes") or {})}
        for name, cfg in sorted(users.items())
    ]
    if as_json:
        emit_json("users", rows)
        return
    table([(r["name"], r["email"], r["indexes"]) for r in rows], ["USER", "EMAIL", "INDEXES"])


@user.command()
@click.argument("name")
@click.option("--email", help="The user's e-mail address.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@pass_state
@boundary
def add(state: AppState, name: str, email: str | None, password_stdin: bool) -> None:
    """Add user NAME (the password is prompted for, or read with --password-stdin).

    \b
    Example:
      pipl proj user add alice --email alice@studio.example
    """
    from pipl import names

    names.check_user(name)
    password = read_password(password_stdin)
    with state.client("admin") as client:
        client.create_user(name, password, email=email)
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
@boundary
def set_user(
    state: AppState, name: str, email: str | None, change_password: bool, password_stdin: bool
) -> None:
    """Change user NAME's password and/or e-mail."""
    from pipl import names

    names.check_user(name)
    if not (email or change_password or password_stdin):
        raise UsageError("nothing to change: give --password and/or --email")
    password = (
        read_password(password_stdin, prompt="New password")
        if (change_password or password_stdin)
        else None
    )
    project = state.project()
    with state.client("admin") as client:
        client.modify_user(name, password=password, email=email)
    if password is not None and name in ("root", project.owner):
        # pipl keeps these two passwords in the project's secrets
        project.secrets.set_password(name, password)
        project.secrets.tokens.drop(project.url, name)
    changed = " and ".join(
        x for x in ("password" if password else "", "email" if email else "") if x
    )
    click.echo(f"Changed {changed} of {name!r}.")


@user.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_state
@boundary
def remove(state: AppState, name: str, yes: bool) -> None:
    """Remove user NAME and the volatile indexes they own."""
    from pipl import names

    names.check_user(name)
    project = state.project()
    if name in ("root", project.owner):
        raise UsageError(f"{name!r} is needed by the project and cannot be removed")
    if not yes:
        click.confirm(f"Remove user {name!r} and their indexes?", abort=True)
    with state.client("admin") as client:
        client.delete_user(name)
    click.echo(f"Removed user {name!r}.")
