"""The dashboard's address: the ``[web]`` table of ``pipl.toml`` (where the dashboard and
HTTP API listen) and the URL file the running server writes.

::

    [web]
    host = "127.0.0.1"   # default: the server's host
    port = 3142          # default: the devpi-server's port + 1; 0 picks a free port
    enabled = true       # false: the runner serves no web pages and no API
"""

from __future__ import annotations

from pathlib import Path

from pipl.project.config import PiplToml, WebConfig
from pipl.project.project import Project, ProjectFiles


def load_web_config(project: Project) -> WebConfig:
    """The ``[web]`` table of the project's ``pipl.toml``, read now."""
    return PiplToml.of(project.root).web(project.config)


def url_file(project: ProjectFiles) -> Path:
    """Where the running web server writes its URL (gone when it stops)."""
    return project.state_dir / "ci" / "web.url"


def web_url(project: ProjectFiles) -> str | None:
    """The URL of the project's dashboard while its runner serves it, else None."""
    try:
        return url_file(project).read_text().strip() or None
    except OSError:
        return None
