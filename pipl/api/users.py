"""Users of the project's server (for root and the owner)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class User:
    """A user of the project's devpi-server and the indexes they own."""

    name: str
    email: str = ""
    indexes: list[str] = field(default_factory=list)
