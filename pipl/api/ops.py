"""The operations of pipl's API: one table shared by the client and the HTTP server.

An operation has a name (``jobs.list``), an HTTP method and path (``GET /api/v1/jobs``)
and the access it needs: ``read`` (anyone who may read the project's indexes, anonymous
visitors included when devpi lets them read), ``user`` (a logged-in devpi user) or
``owner`` (the project's owner or root). The client builds requests from this table and
the server routes them with it, so the two cannot drift apart.

Path parameters are written ``{name}`` (one path segment) or ``{name*}`` (the rest of the
path, for data files). Other parameters travel as the query string (GET) or as a JSON
body (POST).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

Access = Literal["read", "user", "owner"]
PREFIX = "/api/v1"


@dataclass(frozen=True)
class Op:
    name: str
    method: Literal["GET", "POST"]
    path: str
    access: Access = "read"
    summary: str = ""
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = re.split(r"(\{\w+\*?\})", self.path)
        regex = "".join(_part_regex(part) for part in parts)
        object.__setattr__(self, "_pattern", re.compile(f"^{regex}$"))

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{(\w+)\*?\}", self.path)

    def url(self, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The request path for ``params``, and the parameters left for query or body."""
        rest = dict(params)
        path = self.path
        for name in self.path_params:
            value = str(rest.pop(name))
            safe = "/" if "{" + name + "*}" in path else ""
            path = path.replace("{" + name + "*}", quote(value, safe=safe))
            path = path.replace("{" + name + "}", quote(value, safe=safe))
        return path, rest

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self._pattern.match(path)
        return found.groupdict() if found else None


def _part_regex(part: str) -> str:
    """``{name}`` matches one path segment, ``{name*}`` the rest; anything else itself."""
    found = re.fullmatch(r"\{(\w+)(\*?)\}", part)
    if found is None:
        return re.escape(part)
    return f"(?P<{found[1]}>{'.+' if found[2] else '[^/]+'})"


OPS: dict[str, Op] = {}


def declare(
    name: str,
    method: Literal["GET", "POST"],
    path: str,
    access: Access = "read",
    summary: str = "",
) -> Op:
    """Add an operation to the table (each domain module of the client declares its own)."""
    if name in OPS:
        raise ValueError(f"operation {name!r} declared twice")
    op = Op(name, method, PREFIX + path, access, summary)
    OPS[name] = op
    return op


def find(method: str, path: str) -> tuple[Op, dict[str, str]] | None:
    """The operation answering ``method path``, and its path parameters."""
    for op in OPS.values():
        params = op.match(method, path)
        if params is not None:
            return op, params
    return None


def known_path(path: str) -> bool:
    """Whether some operation (of any method) answers ``path``."""
    return any(op._pattern.match(path) for op in OPS.values())
