"""The admin operations of pipl's API as typed functions of a client, one each.

Written by ``make api`` (``pipl.api.codegen``) from the functions of ``pipl.api.service``
that carry the operations out: change those, not this file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipl.api.admin import Health, Identity, Login
from pipl.api.models import value_of
from pipl.api.ops import Route

if TYPE_CHECKING:
    from pipl.api.client.remote import Sender


HEALTH = Route("health", "GET", "/api/v1/health")


def health(client: Sender) -> Health:
    """The server's and CI runner's state, serials, job counts and versions."""
    answer: Health = value_of(Health, client.send(HEALTH, {}))
    return answer


WHOAMI = Route("whoami", "GET", "/api/v1/whoami")


def whoami(client: Sender) -> Identity:
    """Who this client is to the project (``user`` None: anonymous)."""
    answer: Identity = value_of(Identity, client.send(WHOAMI, {}))
    return answer


LOGIN = Route("login", "POST", "/api/v1/login")


def login(client: Sender, user: str, password: str) -> Login:
    """Log in to the project's devpi-server; the answer's token authenticates later calls."""
    answer: Login = value_of(Login, client.send(LOGIN, {"user": user, "password": password}))
    return answer
