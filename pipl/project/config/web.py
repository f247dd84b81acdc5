"""``[web]``: where the runner serves the dashboard and the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipl.project.config.project import ProjectConfig
from pipl.project.config.values import flag, integer, table_of, text


@dataclass(frozen=True)
class WebConfig:
    """``[web]``: where the runner serves the dashboard and the HTTP API."""

    host: str
    port: int
    enabled: bool = True


def parse_web(data: Any, server: ProjectConfig) -> WebConfig:
    """``[web]``; by default beside the devpi-server (its host, its port + 1)."""
    data = table_of(data, "web")
    return WebConfig(
        host=text(data, "web", "host", server.host),
        port=integer(data, "web", "port", server.port + 1, 0, 65535),
        enabled=flag(data, "web", "enabled", True),
    )
