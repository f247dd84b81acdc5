"""``client.users``: the project's devpi users (root and the owner only)."""

from __future__ import annotations

from pipl.api.client import operations as op
from pipl.api.client.remote import Domain, remote


class UsersApi(Domain):
    """``client.users``: the project's devpi users (root and the owner only)."""

    list = remote(op.users_list)
    add = remote(op.users_add)
    delete = remote(op.users_delete)
