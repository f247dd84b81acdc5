"""The web application: the JSON API under ``/api/``, static files under ``/static/``,
the CI figures for Prometheus at ``/metrics``, and the dashboard's pages everywhere else.
One WSGI callable, served by ``server``."""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Iterable
from importlib import resources
from typing import Any

from webob import Request, Response

from pipl.api import service
from pipl.api.http import ApiApp, as_pipl_error
from pipl.api.limits import SMALL_BODY, check_length, read_body
from pipl.errors import AuthError, NotFound, PiplError, http_status
from pipl.project.project import Project
from pipl.web import pages
from pipl.web.auth import WebAuth, csrf_token

log = logging.getLogger("pipl.web")


def templates() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("pipl.web", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from pipl.web import filters

    filters.install(env)
    return env


class WebApp:
    """The dashboard and API of ``project``. The CI database is brought up to date here,
    once, so that no request changes its schema."""

    def __init__(self, project: Project) -> None:
        from pipl.ci import db

        db.migrate(project.root)
        self.project = project
        self.auth = WebAuth(service.TokenChecker(project))
        self.api = ApiApp(project, self.auth.caller_for)
        self.templates = templates()
        pages.load()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            path = request.path_info
        except UnicodeDecodeError:
            path = None
        if path is None:
            response = Response("the request's path is not valid UTF-8\n", status=400)
            response.content_type = "text/plain"
        elif path.startswith("/api/"):
            response = self.api.handle(request)
        elif path.startswith("/static/"):
            response = static(path.removeprefix("/static/"))
        elif path == "/metrics":
            response = metrics(self.project, request.method)
        else:
            response = self.page(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        answer: Iterable[bytes] = response(environ, start_response)
        return answer

    def page(self, request: Request) -> Response:
        found = pages.find(request.method, request.path_info)
        response = Response()
        csrf = csrf_token(request, response)
        ctx = None
        try:
            if found is None:
                raise NotFound(f"there is no page at {request.path_info}")
            func, params = found
            check_length(request, SMALL_BODY)
            ctx = service.Context(self.project, self.auth.caller_for(request), migrate=False)
            read_body(request, SMALL_BODY)
            p = pages.Page(request, ctx, self.templates, csrf)
            result = func(p, **params)
        except Exception as exc:
            error, status = as_pipl_error(exc), None
            if error is None:
                log.exception("page %s failed", request.path_info)
                error = PiplError("this page failed inside the server: see the runner's log")
                status = 500
            result = self.error_page(request, error, csrf, status)
        finally:
            if ctx is not None:
                ctx.close()
        return _with_cookies(result, response)

    def error_page(
        self, request: Request, error: PiplError, csrf: str, status: int | None = None
    ) -> Response:
        code = status or http_status(error)
        html = self.templates.get_template("error.html").render(
            error=str(error),
            status=code,
            user=None,
            is_owner=False,
            project=self.project.name,
            csrf=csrf,
            path=request.path_info,
            login=isinstance(error, AuthError),
        )
        return Response(html, status=code, content_type="text/html", charset="utf-8")


def _with_cookies(result: Response, response: Response) -> Response:
    """``result`` with the cookies set on ``response`` (the CSRF cookie of a new visitor)."""
    for header, value in response.headerlist:
        if header == "Set-Cookie":
            result.headerlist.append((header, value))
    return result


def metrics(project: Project, method: str) -> Response:
    """The CI figures in Prometheus' text format (``pipl.ci.metrics``), read-only from the
    CI database. They name handlers and states only, so a scraper needs no login."""
    if method not in ("GET", "HEAD"):
        return Response("GET /metrics\n", status=405, content_type="text/plain", allow="GET")
    import sqlite3

    from pipl.ci.metrics import exposition, figures

    try:
        body, content_type = exposition(figures(project.root))
    except sqlite3.Error as exc:  # busy past its timeout, or being replaced: scrape again
        log.warning("/metrics: the CI database cannot be read: %s", exc)
        text = f"the CI database cannot be read now ({exc}); the next scrape tries again\n"
        return Response(text, status=503, content_type="text/plain")
    response = Response(body=body)
    response.headers["Content-Type"] = content_type
    response.cache_control = "no-store"
    return response


def static(name: str) -> Response:
    """A file of ``pipl/web/static`` (only files of that folder, by plain name)."""
    if not name or "/" in name or name.startswith("."):
        return Response("not found", status=404)
    file = resources.files("pipl.web") / "static" / name
    if not file.is_file():
        return Response("not found", status=404)
    response = Response(body=file.read_bytes(), content_type=mimetypes.guess_type(name)[0])
    response.cache_control = "public, max-age=300"
    return response
