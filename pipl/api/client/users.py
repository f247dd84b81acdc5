"""``client.users``: the project's devpi users (root and the owner only)."""

from __future__ import annotations

from pipl.api.client.remote import Domain, remote
from pipl.api.service import users


class UsersApi(Domain):
    """``client.users``: the project's devpi users (root and the owner only)."""

    list = remote(users.list_users)
    add = remote(users.add)
    delete = remote(users.delete)
