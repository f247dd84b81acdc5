"""CI jobs: list, get, logs (following a running job), retry, cancel, wait."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipl.api.client import Client


class JobsApi:
    """``client.jobs``: the CI jobs of the project."""

    def __init__(self, client: Client) -> None:
        self._client = client
