"""The overview page, login and logout."""

from __future__ import annotations

from webob import Response

from pipl.errors import AuthError
from pipl.web.auth import check_csrf, clear_login, set_login
from pipl.web.pages import Page, page


@page("GET", "/")
def overview(p: Page) -> Response:
    return p.render("home.html", health=p.call("health"))


@page("GET", "/login")
def login_form(p: Page) -> Response:
    return p.render("login.html", error=None, next=_next(p))


@page("POST", "/login")
def login(p: Page) -> Response:
    check_csrf(p.request)
    user = p.request.POST.get("user", "")
    password = p.request.POST.get("password", "")
    try:
        answer = p.call("login", user=user, password=password)
    except AuthError as exc:
        return p.render("login.html", status=401, error=str(exc), next=_next(p))
    response = p.redirect(_next(p))
    set_login(response, answer.token, max_age=max(60, int(answer.expires - _now())))
    return response


@page("POST", "/logout")
def logout(p: Page) -> Response:
    check_csrf(p.request)
    response = p.redirect("/")
    clear_login(response)
    return response


def _next(p: Page) -> str:
    target = p.request.params.get("next", "/")
    # only a path of this site: never send a visitor elsewhere after logging in
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _now() -> float:
    import time

    return time.time()
