"""Pipelines: their graphs, runs, instances with logs and parameters, tags, deletion."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipl.api.client import Client


class PipelinesApi:
    """``client.pipelines``: the project's segment pipelines and their instances."""

    def __init__(self, client: Client) -> None:
        self._client = client
