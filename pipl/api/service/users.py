"""Operations on the server's users (root and the project's owner), with the rules of
``pipl.index.users``: names checked, root and the owner cannot be removed.

devpi lets only root change users (pipl starts it with ``--restrict-modify root``); the
owner's requests, checked as the owner's first, are carried out with root's login from
the project's secrets, as 'pipl proj user' does on the project's machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pipl import names
from pipl.api.ops import operation
from pipl.api.service import Context
from pipl.api.users import User
from pipl.index import users as rules
from pipl.index.client import IndexClient


@contextmanager
def _admin(ctx: Context) -> Iterator[IndexClient]:
    if ctx.caller.user == "root":
        yield ctx.index
        return
    from pipl.index.session import connect

    with connect(ctx.project, "admin") as client:
        yield client


def _users(client: IndexClient) -> list[User]:
    return [User(u.name, u.email, u.indexes) for u in rules.list_users(client)]


@operation("users.list", "GET", "/users", "owner", summary="list the server's users")
def list_users(ctx: Context) -> list[User]:
    """The project's devpi users and the indexes each owns."""
    return _users(ctx.index)


@operation("users.add", "POST", "/users", "owner", summary="add a user")
def add(ctx: Context, name: str, password: str, email: str | None = None) -> list[User]:
    """Add user ``name``; answers the users afterwards."""
    names.check_user(name)
    with _admin(ctx) as client:
        rules.add_user(client, name, password, email=email or None)
        return _users(client)


@operation("users.delete", "POST", "/users/{name}/delete", "owner", summary="remove a user")
def delete(ctx: Context, name: str) -> list[User]:
    """Remove user ``name`` and the indexes they own (root and the owner stay)."""
    rules.check_removable(ctx.project, name)
    with _admin(ctx) as client:
        rules.remove_user(ctx.project, client, name)
        return _users(client)
