"""How large a request body each route of the web server accepts, and reading a body
within that bound.

``releases.upload`` carries wheels and sdists (base64 in JSON); every other API call and
every dashboard form carries at most ``SMALL_BODY``. A body is read only after its
Content-Length is checked against its route's bound (``check_length``) and the caller's
access is checked; ``read_body`` also bounds a body sent without a Content-Length.
"""

from __future__ import annotations

from webob import Request

from pipl.api import ops
from pipl.api.releases import MAX_UPLOAD
from pipl.errors import BodyTooLarge

SMALL_BODY = 1 << 20  # an API call's JSON or a dashboard form
UPLOAD_BODY = MAX_UPLOAD * 4 // 3 + (1 << 20)  # MAX_UPLOAD bytes in base64, and the JSON
LARGE_BODIES = {"releases.upload": UPLOAD_BODY}
LARGEST_BODY = max(SMALL_BODY, *LARGE_BODIES.values())


def too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"the request body is larger than this route accepts ({limit} bytes)")


def body_limit(op: ops.Op | None) -> int:
    """The largest body ``op`` accepts (a page or an unknown path: ``SMALL_BODY``)."""
    return LARGE_BODIES.get(op.name, SMALL_BODY) if op is not None else SMALL_BODY


def check_length(request: Request, limit: int) -> None:
    """Refuse a body whose Content-Length is over ``limit``, before any of it is read."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)


def read_body(request: Request, limit: int) -> bytes:
    """The request's body, at most ``limit`` bytes (else ``BodyTooLarge``); a body without
    a Content-Length (chunked) is read up to the bound. It stays readable afterwards as
    ``request.body`` and ``request.POST``."""
    check_length(request, limit)
    if request.content_length is not None or not request.is_body_readable:
        body: bytes = request.body
        return body
    data: bytes = request.body_file_raw.read(limit + 1)
    if len(data) > limit:
        raise too_large(limit)
    request.body = data
    return data
