"""The project side of pipl's API: the operations, carried out for one caller.

An operation is a function ``(ctx, **params) -> value`` of one of this package's domain
modules, declared with ``pipl.api.ops.operation``. ``dispatch`` checks the caller's access
first:
``read`` operations go to devpi as the caller (so devpi's own read rules apply),
``user`` needs a logged-in user and ``owner`` the project's owner or root. The HTTP API
and the local client both call ``dispatch``; the CLI's commands that overlap an operation
go through the local client (``pipl.cli.state.AppState.api``).
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import sqlite3
import threading
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipl.api import ops
from pipl.errors import AuthError, Forbidden, NotFound, PiplError, UsageError
from pipl.index.client import IndexClient
from pipl.project.project import Project
from pipl.project.secrets import Token

Handler = Callable[..., Any]


@dataclass
class Caller:
    """Who asks: a devpi user with their token, or nobody (anonymous)."""

    user: str | None = None
    token: Token | None = None

    @property
    def header(self) -> str | None:
        """The caller's token as the ``X-Devpi-Auth`` value (what a remote client sends)."""
        if self.token is None:
            return None
        return base64.b64encode(f"{self.token.user}:{self.token.token}".encode()).decode()


@dataclass
class Context:
    """One caller's view of one project, for the length of a request (or of a local
    client). Connections are opened when first used and closed by ``close``."""

    project: Project
    caller: Caller = field(default_factory=Caller)
    _index: IndexClient | None = None
    _ci: sqlite3.Connection | None = None
    _readable: set[str] = field(default_factory=set)
    # a local caller may bring the CI database up to date as it first opens it; a web
    # server's requests pass False: they never change its schema (the server did, as it
    # started)
    migrate: bool = True
    # what one request has read already (index configs, the server's serial), by key
    memo: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def local(cls, root: Path) -> Context:
        """The project at ``root`` as this machine's user sees it: the user of 'pipl proj
        login', else the owner when the project's secrets are readable, else anonymous.
        While its server is not running, the same user is found from the files alone, so
        what needs only the project's files (its CI jobs and their logs) still works."""
        from pipl.errors import ServerNotRunning
        from pipl.index.session import connect, offline_user
        from pipl.project.project import find_project

        project = find_project(root)
        try:
            try:
                client = connect(project, "user")
            except AuthError:
                client = connect(project, "anonymous")
        except ServerNotRunning:
            return cls(project, Caller(offline_user(project)))
        return cls(project, Caller(client.user, client.token), client)

    @property
    def index(self) -> IndexClient:
        """A client of the project's devpi-server carrying the caller's token."""
        if self._index is None:
            self._index = IndexClient(self.project.url, token=self.caller.token)
        return self._index

    @property
    def ci(self) -> sqlite3.Connection:
        """The project's CI database (jobs and events)."""
        if self._ci is None:
            from pipl.ci import db

            self._ci = db.open_db(self.project.root, migrate=self.migrate)
        return self._ci

    @property
    def is_owner(self) -> bool:
        return self.caller.user in (self.project.owner, "root")

    def require(self, access: str, what: str) -> None:
        if access == "read":
            return
        if self.caller.user is None:
            raise AuthError(f"{what} needs a logged-in user: log in first")
        if access == "owner" and not self.is_owner:
            raise Forbidden(
                f"{what} is for the owner of project {self.project.name!r} "
                f"(devpi user {self.project.owner!r}) or root, not {self.caller.user!r}"
            )

    def require_read(self, index: str) -> None:
        """Raise unless devpi lets the caller read ``index`` (user/name): data derived from
        an index (its CI jobs, pipelines, products) is shown to whoever may read it."""
        if index in self._readable:
            return
        self.index.get_index(index, projects=False)  # AuthError / NotFound from devpi
        self._readable.add(index)

    def use(self, caller: Caller) -> None:
        """Act as ``caller`` from now on."""
        self.close()
        self.caller = caller
        self._readable.clear()
        self.memo.clear()

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
        if self._ci is not None:
            self._ci.close()
            self._ci = None


def dispatch(ctx: Context, name: str, params: dict[str, Any]) -> Any:
    """Carry out operation ``name`` for ``ctx``'s caller."""
    op = ops.get(name)
    if op is None:
        raise NotFound(f"pipl's API has no operation {name!r}")
    ctx.require(op.access, op.summary)
    return op.func(ctx, **coerce(name, op.func, params))


def coerce(name: str, handler: Handler, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` checked against ``handler``'s signature, text from a URL converted to the
    annotated type (int, float, bool, list). A wrong or unknown parameter is a UsageError."""
    signature = inspect.signature(handler)
    hints = typing.get_type_hints(handler)
    accepted = list(signature.parameters)[1:]  # after ctx
    result: dict[str, Any] = {}
    for key, value in params.items():
        if key not in accepted:
            raise UsageError(
                f"{name} takes no parameter {key!r} (it takes: {', '.join(accepted) or 'none'})"
            )
        result[key] = _convert(name, key, hints.get(key, str), value)
    missing = [
        p.name
        for p in list(signature.parameters.values())[1:]
        if p.default is inspect.Parameter.empty and p.name not in result
    ]
    if missing:
        raise UsageError(f"{name} needs the parameter(s) {', '.join(missing)}")
    return result


def _convert(name: str, key: str, hint: Any, value: Any) -> Any:
    kinds = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    kind = typing.get_origin(kinds[0]) or kinds[0]
    if not isinstance(value, str):
        if (value is None and type(None) in typing.get_args(hint)) or _is_a(value, kinds[0]):
            return value
        raise UsageError(
            f"{name}: parameter {key!r} must be of type {kind.__name__}, not {type(value).__name__}"
        )
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        if kind in (int, float):
            return kind(value)
        if kind in (list, tuple):
            items = json.loads(value) if value.startswith("[") else value.split(",")
            return [str(item) for item in items if str(item)]
    except ValueError:
        raise UsageError(
            f"{name}: parameter {key!r} must be of type {kind.__name__}, not {value!r}"
        ) from None
    return value


def _is_a(value: Any, hint: Any) -> bool:
    """Whether a value from a JSON body fits the annotated type ``hint`` (types other than
    these plain ones are left to the operation)."""
    kind = typing.get_origin(hint) or hint
    if isinstance(value, bool) or kind is bool:
        return isinstance(value, bool) and kind in (bool, Any)
    if kind in (list, tuple):
        items = typing.get_args(hint)[:1] or (Any,)
        return isinstance(value, list) and all(_is_a(item, items[0]) for item in value)
    plain: dict[Any, tuple[type, ...]] = {int: (int,), float: (int, float), str: (str,)}
    return kind not in plain or isinstance(value, plain[kind])


class TokenChecker:
    """Who an ``X-Devpi-Auth`` value belongs to, asked of devpi and remembered for a short
    while, so a page or API request costs no login round trip."""

    TTL = 30.0

    def __init__(self, project: Project) -> None:
        self.project = project
        self._seen: dict[str, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def caller(self, header: str | None) -> Caller:
        if not header:
            return Caller()
        with self._lock:
            seen = self._seen.get(header)
        if seen is not None and time.monotonic() - seen[0] < self.TTL:
            return seen[1]
        caller = self._ask(header)
        with self._lock:
            if len(self._seen) > 1000:
                self._seen.clear()
            self._seen[header] = (time.monotonic(), caller)
        return caller

    def _ask(self, header: str) -> Caller:
        caller = caller_of(header)
        with IndexClient(self.project.url, token=caller.token) as client:
            seen_as = client.whoami()
        if seen_as != caller.user:
            raise AuthError("the token is not valid or has expired: log in again")
        return caller


def caller_of(header: str) -> Caller:
    """The caller an ``X-Devpi-Auth`` value names (not yet checked with devpi)."""
    try:
        user, _, secret = base64.b64decode(header, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthError("the token is not valid: log in again") from None
    if not user or not secret:
        raise AuthError("the token is not valid: log in again")
    return Caller(user, Token(user, secret, time.time() + 3600))


__all__ = ["Caller", "Context", "PiplError", "TokenChecker", "dispatch", "operation"]
