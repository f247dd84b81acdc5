"""Users of the project's server (for root and the owner)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipl.api.models import build_list
from pipl.api.ops import declare

if TYPE_CHECKING:
    from pipl.api.client import Client

declare("users.list", "GET", "/users", "owner", summary="list the server's users")
declare("users.add", "POST", "/users", "owner", summary="add a user")
declare("users.delete", "POST", "/users/{name}/delete", "owner", summary="remove a user")


@dataclass(frozen=True)
class User:
    """A user of the project's devpi-server and the indexes they own."""

    name: str
    email: str = ""
    indexes: list[str] = field(default_factory=list)


class UsersApi:
    """``client.users``: the project's devpi users (root and the owner only)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self) -> builtins.list[User]:
        return build_list(User, self._client._call("users.list"))

    def add(self, name: str, password: str, *, email: str | None = None) -> builtins.list[User]:
        """Add user ``name``; answers the users afterwards."""
        return build_list(
            User, self._client._call("users.add", name=name, password=password, email=email)
        )

    def delete(self, name: str) -> builtins.list[User]:
        """Remove user ``name`` and the indexes they own (root and the owner stay)."""
        return build_list(User, self._client._call("users.delete", name=name))
