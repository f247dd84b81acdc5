"""The checks the web server makes on a request's line and headers, before it receives
the body: the body's announced size against its route's bound (``pipl.api.limits``), and
credentials on a request to an operation for logged-in users. A request failing them is
answered at once and its body is never read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pipl.api import ops
from pipl.api.limits import body_limit, too_large
from pipl.api.transport import AUTH_HEADER
from pipl.errors import AuthError, PiplError, http_status
from pipl.web.auth import AUTH_COOKIE


@dataclass(frozen=True)
class Refusal:
    status: int
    kind: str
    message: str

    @classmethod
    def of(cls, error: PiplError) -> Refusal:
        """The answer the API gives ``error`` (``pipl.api.http.error_response``)."""
        return cls(http_status(error), type(error).__name__, str(error))


def route_of(method: str, path: str) -> ops.Op | None:
    """The API operation answering ``method path``, None for a page or an unknown path."""
    found = ops.find(method, path) if path.startswith(ops.PREFIX + "/") else None
    return found[0] if found else None


@dataclass(frozen=True)
class Admission:
    limit: int  # the largest body the request's route accepts
    refusal: Refusal | None = None  # why the request is refused, None when it is not


def admit(method: str, path: str, headers: Mapping[str, str]) -> Admission:
    """What the request line and headers alone say of a request. ``headers`` are named
    as in a WSGI environ without the ``HTTP_`` prefix (``CONTENT_LENGTH``)."""
    op = route_of(method, path)
    limit = body_limit(op)
    length = headers.get("CONTENT_LENGTH", "")
    if length.isdigit() and int(length) > limit:
        return Admission(limit, Refusal.of(too_large(limit)))
    if op is not None and op.access != "read" and not has_credentials(headers):
        what = op.summary or op.name
        refusal = AuthError(f"{what} needs a logged-in user: log in first")
        return Admission(limit, Refusal.of(refusal))
    return Admission(limit)


def has_credentials(headers: Mapping[str, str]) -> bool:
    """Whether the request shows a token (header or login cookie), not yet checked."""
    if headers.get(AUTH_HEADER.upper().replace("-", "_")):
        return True
    return f"{AUTH_COOKIE}=" in headers.get("COOKIE", "")
