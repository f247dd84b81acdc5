"""Users of the project's server (for root and the owner)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipl.api.client import Client


class UsersApi:
    """``client.users``: the project's devpi users."""

    def __init__(self, client: Client) -> None:
        self._client = client
