"""Stages, packls, releases with their files and QA results, products, assets, promotion."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipl.api.client import Client


class ReleasesApi:
    """``client.releases``: what each stage index holds, and moving it to the next."""

    def __init__(self, client: Client) -> None:
        self._client = client
