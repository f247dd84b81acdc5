"""Operations: health, whoami, login."""

from __future__ import annotations

from importlib import metadata

from pipl.api.admin import Health, Identity, Login
from pipl.api.ops import operation
from pipl.api.service import Caller, Context


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


@operation("health", "GET", "/health", summary="the server's and runner's health")
def health(ctx: Context) -> Health:
    """The server's and CI runner's state, serials, job counts and versions."""
    from pipl.ci import db, service
    from pipl.errors import ServerError

    try:
        status = ctx.index.status()
        running, serial, event_serial = True, status.get("serial"), status.get("event-serial")
    except ServerError:
        running, serial, event_serial = False, None, None
    pid = service.runner_pid(ctx.project)
    return Health(
        project=ctx.project.name,
        url=ctx.project.url,
        server_running=running,
        serial=serial,
        event_serial=event_serial,
        runner_running=pid is not None,
        runner_pid=pid,
        jobs=db.counts(ctx.ci),
        versions={d: _version(d) for d in ("pipl", "pipl-pipe", "devpi-server")},
    )


@operation("whoami", "GET", "/whoami", summary="who the caller is")
def whoami(ctx: Context) -> Identity:
    """Who this client is to the project (``user`` None: anonymous)."""
    return Identity(ctx.caller.user, ctx.project.name, ctx.project.owner, ctx.is_owner)


@operation("login", "POST", "/login", summary="log in")
def login(ctx: Context, user: str, password: str) -> Login:
    """Log in to the project's devpi-server; the answer's token authenticates later calls."""
    from pipl.index.client import IndexClient
    from pipl.index.session import check_server

    with IndexClient(ctx.project.url) as client:
        check_server(ctx.project, client)
        token = client.login(user, password)
    ctx.caller = Caller(token.user, token)
    return Login(token.user, ctx.caller.header or "", token.expires)
