"""The ``[web]`` table of ``pipl.toml``: where the dashboard and HTTP API listen.

::

    [web]
    host = "127.0.0.1"   # default: the server's host
    port = 3142          # default: the devpi-server's port + 1; 0 picks a free port
    enabled = true       # false: the runner serves no web pages and no API
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pipl.errors import ProjectError
from pipl.project.config import FILENAME
from pipl.project.project import Project, ProjectFiles


@dataclass(frozen=True)
class WebConfig:
    host: str
    port: int
    enabled: bool = True


def load_web_config(project: Project) -> WebConfig:
    path = project.root / FILENAME
    try:
        data = tomllib.loads(path.read_text()).get("web", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(f"{path}: cannot read the [web] table ({exc}); fix the file") from None
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: [web] must be a table; fix the file")
    port = data.get("port", project.config.port + 1)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ProjectError(f"{path}: [web] port must be a number from 0 to 65535; fix the file")
    host = data.get("host", project.config.host)
    enabled = data.get("enabled", True)
    if not isinstance(host, str) or not isinstance(enabled, bool):
        raise ProjectError(f"{path}: [web] host must be text and enabled true or false")
    return WebConfig(host, port, enabled)


def url_file(project: ProjectFiles) -> Path:
    """Where the running web server writes its URL (gone when it stops)."""
    return project.state_dir / "ci" / "web.url"


def web_url(project: ProjectFiles) -> str | None:
    """The URL of the project's dashboard while its runner serves it, else None."""
    try:
        return url_file(project).read_text().strip() or None
    except OSError:
        return None
