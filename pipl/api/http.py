"""The HTTP JSON API: ``pipl.api.ops`` over HTTP, a WSGI application.

Requests are authenticated like devpi's own API, with an ``X-Devpi-Auth`` header carrying
a devpi login token (``Client.login`` or ``pipl proj token`` makes one), or by the
dashboard's login cookie. Answers are ``{"result": ...}`` or, for a failure,
``{"error": {"kind": "NotFound", "message": "..."}}`` with a matching HTTP status.
A state-changing request carried by the cookie also needs the page's CSRF token (see
``pipl.web.auth``); one carried by the header cannot come from another site.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from webob import Request, Response

from pipl.api import ops, service
from pipl.api.models import to_json
from pipl.errors import (
    AuthError,
    IndexServerError,
    NotFound,
    PiplError,
    ServerError,
    UsageError,
)
from pipl.project.project import Project

log = logging.getLogger("pipl.api")
CallerFor = Callable[[Request], service.Caller]


def status_of(error: PiplError) -> int:
    if isinstance(error, IndexServerError) and error.status and 400 <= error.status < 600:
        return error.status
    if isinstance(error, AuthError):
        return 401
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, UsageError):
        return 400
    if isinstance(error, ServerError):
        return 503
    return 409  # a refusal: the request cannot be done in the project's present state


def error_response(error: PiplError) -> Response:
    body = {"error": {"kind": type(error).__name__, "message": str(error)}}
    return json_response(body, status=status_of(error))


def json_response(body: Any, status: int = 200) -> Response:
    response = Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        charset=None,
    )
    response.cache_control = "no-store"
    return response


class ApiApp:
    """WSGI application answering ``/api/v1/...``. ``caller_for`` says who a request comes
    from (``pipl.web.auth`` checks the header or the cookie and the CSRF token)."""

    def __init__(self, project: Project, caller_for: CallerFor) -> None:
        self.project = project
        self.caller_for = caller_for

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        return self.handle(request)(environ, start_response)

    def handle(self, request: Request) -> Response:
        found = ops.find(request.method, request.path_info)
        if found is None:
            if ops.known_path(request.path_info):
                what = f"{request.method} is not allowed on {request.path_info}"
                return json_response({"error": {"kind": "UsageError", "message": what}}, 405)
            return error_response(NotFound(f"no API operation at {request.path_info}"))
        op, params = found
        ctx = None
        try:
            caller = self.caller_for(request)
            params = {**self._params(request, op), **params}
            ctx = service.Context(self.project, caller)
            result = service.dispatch(ctx, op.name, params)
            return json_response({"result": to_json(result)})
        except PiplError as exc:
            return error_response(exc)
        except Exception:
            log.exception("API operation %s failed", op.name)
            message = f"{op.name} failed inside the server: see the CI runner's log"
            return json_response({"error": {"kind": "PiplError", "message": message}}, 500)
        finally:
            if ctx is not None:
                ctx.close()

    @staticmethod
    def _params(request: Request, op: ops.Op) -> dict[str, Any]:
        if op.method == "GET":
            return dict(request.GET.items())
        if not request.body:
            return {}
        if request.content_type == "application/json":
            try:
                body = json.loads(request.body)
            except ValueError:
                raise UsageError("the request body is not valid JSON") from None
            if not isinstance(body, dict):
                raise UsageError("the request body must be a JSON object")
            return body
        return {k: v for k, v in request.POST.items() if k != "csrf"}
