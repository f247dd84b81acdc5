"""The HTTP JSON API: ``pipl.api.ops`` over HTTP, a WSGI application.

Requests are authenticated like devpi's own API, with an ``X-Devpi-Auth`` header carrying
a devpi login token (``Client.login`` or ``pipl proj token`` makes one), or by the
dashboard's login cookie. Answers are ``{"result": ...}`` or, for a failure,
``{"error": {"kind": "NotFound", "message": "..."}}`` with a matching HTTP status.
A state-changing request carried by the cookie also needs the page's CSRF token (see
``pipl.web.auth``); one carried by the header cannot come from another site.

A request is routed, its body's size checked against its route's bound
(``pipl.api.limits``) and the caller's access checked before its body is read and parsed.
Malformed input (invalid or too deeply nested JSON, numbers out of range) is a 400
(``as_pipl_error``), never a failure of the server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from pipl_pipe.errors import PipeError
from webob import Request, Response

from pipl.api import limits, ops, service
from pipl.api.models import to_json
from pipl.errors import (
    FrameworkError,
    MethodNotAllowed,
    NotFound,
    PiplError,
    UsageError,
    http_status,
)
from pipl.project.project import Project

log = logging.getLogger("pipl.api")
CallerFor = Callable[[Request], service.Caller]


def as_pipl_error(exc: Exception) -> PiplError | None:
    """What a failure caused by a request's content says to its sender: a PiplError as it
    is, malformed input as a UsageError (HTTP 400), None for a failure of the server."""
    if isinstance(exc, PiplError):
        return exc
    if isinstance(exc, PipeError):  # the framework's errors, as the CLI reports them
        return FrameworkError(str(exc))
    if isinstance(exc, json.JSONDecodeError):
        return UsageError(f"the request body is not valid JSON ({exc})")
    if isinstance(exc, UnicodeDecodeError):
        return UsageError("the request is not valid UTF-8")
    if isinstance(exc, RecursionError):
        return UsageError("the request is nested too deeply")
    if isinstance(exc, OverflowError):
        return UsageError(f"a number in the request is out of range ({exc})")
    return None


def error_response(error: PiplError) -> Response:
    """The answer for ``error``: its class by name (the client raises it again) and the
    status its family maps to (``pipl.errors.http_status``)."""
    body = {"error": {"kind": type(error).__name__, "message": str(error)}}
    return json_response(body, status=http_status(error))


def json_response(body: Any, status: int = 200) -> Response:
    response = Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        charset=None,
    )
    response.cache_control = "no-store"
    return response


OPENAPI_PATH = f"{ops.PREFIX}/openapi.json"


class ApiApp:
    """WSGI application answering ``/api/v1/...``. ``caller_for`` says who a request comes
    from (``pipl.web.auth`` checks the header or the cookie and the CSRF token)."""

    def __init__(self, project: Project, caller_for: CallerFor) -> None:
        self.project = project
        self.caller_for = caller_for
        self._document: bytes | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        answer: Iterable[bytes] = self.handle(request)(environ, start_response)
        return answer

    def handle(self, request: Request) -> Response:
        if request.path_info == OPENAPI_PATH and request.method == "GET":
            return self._openapi()
        found = ops.find(request.method, request.path_info)
        if found is None:
            if ops.known_path(request.path_info):
                what = f"{request.method} is not allowed on {request.path_info}"
                return error_response(MethodNotAllowed(what))
            return error_response(NotFound(f"no API operation at {request.path_info}"))
        op, params = found
        ctx = None
        try:
            # the body is read last: after its size and the caller's access are checked
            limits.check_length(request, limits.body_limit(op))
            ctx = service.Context(self.project, self.caller_for(request), migrate=False)
            ctx.require(op.access, op.summary or op.name)
            params = {**self._params(request, op), **params}
            result = service.dispatch(ctx, op.name, params)
            return json_response({"result": to_json(result)})
        except Exception as exc:
            error = as_pipl_error(exc)
            if error is not None:
                return error_response(error)
            log.exception("API operation %s failed", op.name)
            message = f"{op.name} failed inside the server: see the CI runner's log"
            return json_response({"error": {"kind": "PiplError", "message": message}}, 500)
        finally:
            if ctx is not None:
                ctx.close()

    def _openapi(self) -> Response:
        """This API's OpenAPI document (``pipl.api.openapi``), made once per process."""
        if self._document is None:
            from pipl import __version__
            from pipl.api.openapi import document

            self._document = json.dumps(document(__version__), indent=1).encode()
        return Response(body=self._document, content_type="application/json", charset=None)

    @staticmethod
    def _params(request: Request, op: ops.Op) -> dict[str, Any]:
        if op.method == "GET":
            return dict(request.GET.items())
        body = limits.read_body(request, limits.body_limit(op))
        if not body:
            return {}
        if request.content_type == "application/json":
            found = json.loads(body)  # malformed JSON: see as_pipl_error
            if not isinstance(found, dict):
                raise UsageError("the request body must be a JSON object")
            return found
        return {k: v for k, v in request.POST.items() if k != "csrf"}
