"""Admin, health and authentication: what the server and runner are doing, and who you are."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Health:
    """The project's server and CI runner, as the API sees them."""

    project: str
    url: str  # the devpi-server's URL
    server_running: bool
    serial: int | None  # devpi's last committed change
    event_serial: int | None  # the last change devpi's upload hooks have seen
    runner_running: bool
    runner_pid: int | None
    jobs: dict[str, int] = field(default_factory=dict)  # CI jobs by state
    versions: dict[str, str] = field(default_factory=dict)  # pipl, pipl-pipe, devpi-server


@dataclass(frozen=True)
class Identity:
    """Who the caller is: ``user`` is None for an anonymous visitor."""

    user: str | None
    project: str
    owner: str  # the devpi user owning the project's indexes
    is_owner: bool  # the owner or root: may promote, retry, cancel and delete


@dataclass(frozen=True)
class Login:
    """A login's token: pass it as ``Client(url, token=...)``; it expires at ``expires``."""

    user: str
    token: str
    expires: float
