"""The users operations of pipl's API as typed functions of a client, one each.

Written by ``make api`` (``pipl.api.codegen``) from the functions of ``pipl.api.service``
that carry the operations out: change those, not this file.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from pipl.api.models import value_of
from pipl.api.ops import Route
from pipl.api.users import User

if TYPE_CHECKING:
    from pipl.api.client.remote import Sender


USERS_LIST = Route("users.list", "GET", "/api/v1/users")


def users_list(client: Sender) -> builtins.list[User]:
    """The project's devpi users and the indexes each owns."""
    answer: builtins.list[User] = value_of(builtins.list[User], client.send(USERS_LIST, {}))
    return answer


USERS_ADD = Route("users.add", "POST", "/api/v1/users")


def users_add(
    client: Sender, name: str, password: str, email: str | None = None
) -> builtins.list[User]:
    """Add user ``name``; answers the users afterwards."""
    answer: builtins.list[User] = value_of(
        builtins.list[User],
        client.send(USERS_ADD, {"name": name, "password": password, "email": email}),
    )
    return answer


USERS_DELETE = Route("users.delete", "POST", "/api/v1/users/{name}/delete")


def users_delete(client: Sender, name: str) -> builtins.list[User]:
    """Remove user ``name`` and the indexes they own (root and the owner stay)."""
    answer: builtins.list[User] = value_of(
        builtins.list[User], client.send(USERS_DELETE, {"name": name})
    )
    return answer
