"""The operations of pipl's API, each declared once, on the function that carries it out.

A function of a ``pipl.api.service`` domain module becomes an operation with
``@operation``: a name (``jobs.list``), an HTTP method and path (``GET /api/v1/jobs``),
the access it needs and a few words saying what it does. Its typed signature
``(ctx, **params) -> result`` gives the rest. Everything else is made from this one
table (``table()``):

- the HTTP server routes requests with it (``find``) and ``dispatch`` checks the access;
- ``pipl.Client``'s methods are the functions themselves, seen from the other side
  (``pipl.api.client.remote``): same parameters, same typed result;
- the OpenAPI document (``pipl.api.openapi``) and the table of ``docs/api.md``
  (``markdown()``, checked by a test).

Access: ``read`` (anyone who may read the project's indexes, anonymous visitors included
when devpi lets them read), ``user`` (a logged-in devpi user) or ``owner`` (the project's
owner or root). Path parameters are written ``{name}`` (one path segment) or ``{name*}``
(the rest of the path, for data files). Other parameters travel as the query string
(GET) or as a JSON body (POST).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import quote

Access = Literal["read", "user", "owner"]
PREFIX = "/api/v1"
# the modules of pipl.api.service whose functions are operations, in the docs' order
DOMAINS = (
    "admin",
    "jobs",
    "pipelines",
    "instances",
    "releases",
    "products",
    "promotion",
    "reviews",
    "lifecycle",
    "names",
    "users",
    "flow",
)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Route:
    """Where an operation is asked for: what ``pipl.Client`` needs to send it (without the
    function behind it, so a remote client imports nothing of the project's side)."""

    name: str
    method: Literal["GET", "POST"]
    path: str
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


@dataclass(frozen=True)
class Op(Route):
    """An operation: its route, the access it needs, what it does, and the function
    ``(ctx, **params) -> result`` that carries it out."""

    func: Callable[..., Any] = field(repr=False, compare=False)
    access: Access = "read"
    summary: str = ""


def _part_regex(part: str) -> str:
    """``{name}`` matches one path segment, ``{name*}`` the rest; anything else itself."""
    found = re.fullmatch(r"\{(\w+)(\*?)\}", part)
    if found is None:
        return re.escape(part)
    return f"(?P<{found[1]}>{'.+' if found[2] else '[^/]+'})"


OPS: dict[str, Op] = {}


def operation(
    name: str,
    method: Literal["GET", "POST"],
    path: str,
    access: Access = "read",
    summary: str = "",
) -> Callable[[F], F]:
    """Make the decorated function ``(ctx, **params) -> result`` operation ``name``, at
    ``method PREFIX+path``; ``summary`` names what it does (in the docs, and in the message
    refusing a caller without the access)."""

    def register(func: F) -> F:
        if name in OPS:
            raise ValueError(f"operation {name!r} declared twice")
        OPS[name] = Op(name, method, PREFIX + path, func, access, summary or name)
        func.__pipl_op__ = name  # type: ignore[attr-defined]
        return func

    return register


def op_of(func: Callable[..., Any]) -> Op:
    """The operation ``func`` carries out."""
    name = getattr(func, "__pipl_op__", None)
    if name is None:
        raise ValueError(f"{func.__qualname__} is not an operation of pipl's API")
    return OPS[name]


_ordered: dict[str, Op] = {}


def table() -> dict[str, Op]:
    """Every operation, domain by domain in the order of ``DOMAINS`` and in each as its
    module declares them (the service's domain modules declare theirs when imported)."""
    if len(_ordered) != len(OPS) or not _ordered:
        modules = [importlib.import_module(f"pipl.api.service.{d}") for d in DOMAINS]
        rank = {module.__name__: n for n, module in enumerate(modules)}
        found = sorted(
            OPS.values(),
            key=lambda op: (
                rank.get(op.func.__module__, len(rank)),
                op.func.__code__.co_firstlineno,
            ),
        )
        _ordered.clear()
        _ordered.update((op.name, op) for op in found)
    return _ordered


def get(name: str) -> Op | None:
    """Operation ``name``. Until the table is built, ``DOMAIN.x`` is looked for in
    ``pipl.api.service.DOMAIN`` alone: a command of the CLI then imports the domain it
    uses, not all of them (those of the pipelines bring the pipeline engine)."""
    if not _ordered:
        domain = name.split(".", 1)[0]
        if domain in DOMAINS:
            importlib.import_module(f"pipl.api.service.{domain}")
        if name in OPS:
            return OPS[name]
    return table().get(name)


def find(method: str, path: str) -> tuple[Op, dict[str, str]] | None:
    """The operation answering ``method path``, and its path parameters. The most specific
    path wins: ``/jobs/triggered`` before ``/jobs/{id}``, whatever their order."""
    for op in _by_specificity():
        params = op.match(method, path)
        if params is not None:
            return op, params
    return None


def _by_specificity() -> list[Op]:
    """The operations, those whose paths have the most fixed characters first."""
    ops = table()
    if len(_routes) != len(ops):
        _routes[:] = sorted(ops.values(), key=lambda op: -len(re.sub(r"\{[^}]*\}", "", op.path)))
    return _routes


_routes: list[Op] = []


def known_path(path: str) -> bool:
    """Whether some operation (of any method) answers ``path``."""
    return any(op._pattern.match(path) for op in table().values())


def markdown() -> str:
    """The table of operations in ``docs/api.md``."""
    rows = ["| operation | request | access | what |", "|---|---|---|---|"]
    for op in table().values():
        rows.append(f"| `{op.name}` | `{op.method} {op.path}` | {op.access} | {op.summary} |")
    return "\n".join(rows) + "\n"
