"""Who a web request comes from, and the protection of state-changing requests.

- An ``X-Devpi-Auth`` header (API clients): a devpi token, checked with devpi. A browser
  cannot send this header to another site without its consent (CORS), so such requests
  need nothing more.
- The ``pipl_auth`` cookie (the dashboard, after its login form): the same token, in an
  HttpOnly, SameSite=Strict cookie. A POST carried by the cookie must also send the CSRF
  token (form field ``csrf`` or header ``X-Pipl-CSRF``) equal to the ``pipl_csrf``
  cookie, and an ``Origin`` header, when the browser sends one, must be this server.
"""

from __future__ import annotations

import hmac
import secrets

from webob import Request, Response

from pipl.api.limits import SMALL_BODY, read_body
from pipl.api.service import Caller, TokenChecker
from pipl.api.transport import AUTH_HEADER
from pipl.errors import AuthError, Forbidden

AUTH_COOKIE = "pipl_auth"
CSRF_COOKIE = "pipl_csrf"
CSRF_HEADER = "X-Pipl-CSRF"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class WebAuth:
    def __init__(self, checker: TokenChecker) -> None:
        self.checker = checker

    def caller_for(self, request: Request) -> Caller:
        header = request.headers.get(AUTH_HEADER)
        if header:
            return self.checker.caller(header)
        cookie = request.cookies.get(AUTH_COOKIE)
        if not cookie:
            return Caller()
        try:
            caller = self.checker.caller(cookie)
        except AuthError:
            return Caller()  # an expired login: the visitor is anonymous again
        if request.method not in SAFE_METHODS:
            check_csrf(request)  # may read a form's body: after the login is checked
        return caller


def check_csrf(request: Request) -> None:
    """Refuse a cookie-carried POST without this site's CSRF token or from another origin."""
    origin = request.headers.get("Origin")
    if origin and origin != request.host_url:
        raise Forbidden(f"a request from {origin} may not change this project")
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = request.headers.get(CSRF_HEADER) or _form_field(request, "csrf")
    if not expected or not hmac.compare_digest(expected, given):
        raise Forbidden("the form's CSRF token is missing or stale: reload the page and try again")


def _form_field(request: Request, name: str) -> str:
    """A field of the request's form body, read within a form's bound."""
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return ""
    read_body(request, SMALL_BODY)
    value = request.POST.get(name, "")
    return value if isinstance(value, str) else ""


def csrf_token(request: Request, response: Response) -> str:
    """The visitor's CSRF token, set as a cookie on ``response`` when new."""
    token: str | None = request.cookies.get(CSRF_COOKIE)
    if not token:
        token = secrets.token_urlsafe(24)
        response.set_cookie(CSRF_COOKIE, token, httponly=False, samesite="Strict", path="/")
    return token


def set_login(response: Response, header: str, max_age: int) -> None:
    response.set_cookie(
        AUTH_COOKIE, header, httponly=True, samesite="Strict", path="/", max_age=max_age
    )


def clear_login(response: Response) -> None:
    response.delete_cookie(AUTH_COOKIE, path="/")
