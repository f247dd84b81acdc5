"""The dashboard in a real browser (headless Chromium): logging in and out, the overview,
and what an anonymous visitor may not do. Pages of each domain have their own tests."""

from __future__ import annotations

import httpx
import pytest
from browser import log_in, screenshot

from pipl.project.project import Project


@pytest.fixture(scope="module")
def owner_login(project: Project) -> tuple[str, str]:
    password = project.secrets.password(project.owner)
    assert password
    return project.owner, password


def test_overview_shows_server_and_runner(page, web: str, project: Project) -> None:
    page.goto(web)
    assert page.inner_text("h1") == f"Project {project.name}"
    assert "running" in page.inner_text("table.facts")
    assert page.is_visible("#login")  # anonymous until logging in
    screenshot(page, "overview")


def test_login_and_logout(page, web: str, owner_login) -> None:
    log_in(page, web, *owner_login)
    assert page.inner_text("#user") == f"{owner_login[0]} (owner)"
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["pipl_auth"]["httpOnly"] and cookies["pipl_auth"]["sameSite"] == "Strict"
    page.click("text=Log out")
    page.wait_for_selector("#login")


def test_a_wrong_password_shows_one_line(page, web: str, owner_login) -> None:
    page.goto(f"{web}/login")
    page.fill("input[name=user]", owner_login[0])
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert "wrong user name or password" in page.inner_text("p.error")


def test_a_post_without_the_csrf_token_is_refused(web: str, owner_login) -> None:
    with httpx.Client(base_url=web) as browser_like:
        browser_like.get("/login")  # the CSRF cookie
        csrf = browser_like.cookies["pipl_csrf"]
        answer = browser_like.post(
            "/login", data={"user": owner_login[0], "password": owner_login[1], "csrf": csrf}
        )
        assert answer.status_code == 303 and "pipl_auth" in browser_like.cookies
        # logged in by cookie, a state-changing request without the token is refused ...
        refused = browser_like.post("/logout", data={})
        assert refused.status_code == 403 and "CSRF" in refused.text
        # ... and so is one from another site's page, even with the token
        foreign = browser_like.post(
            "/logout", data={"csrf": csrf}, headers={"Origin": "http://evil.example"}
        )
        assert foreign.status_code == 403


def test_login_redirects_only_within_the_site(web: str, owner_login) -> None:
    with httpx.Client(base_url=web) as client:
        client.get("/login")
        answer = client.post(
            "/login",
            data={
                "user": owner_login[0],
                "password": owner_login[1],
                "csrf": client.cookies["pipl_csrf"],
                "next": "//evil.example/x",
            },
        )
        assert answer.status_code == 303 and answer.headers["location"].endswith("/")


def test_static_files_are_only_the_dashboards_own(web: str) -> None:
    assert httpx.get(f"{web}/static/style.css").status_code == 200
    for bad in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/.hidden", "/static/"):
        assert httpx.get(f"{web}{bad}").status_code == 404, bad


def test_idle_and_dropped_connections_cost_the_server_nothing(web: str) -> None:
    import socket
    from urllib.parse import urlsplit

    host, port = urlsplit(web).hostname, urlsplit(web).port
    idle = [socket.create_connection((host, port)) for _ in range(50)]
    try:
        # a half-sent request, then gone: a browser closed mid-request
        for sock in idle[:10]:
            sock.sendall(b"GET /api/v1/jobs/1/log?offset=0 HTTP/1.1\r\nHost: x\r\n")
            sock.close()
        answer = httpx.get(f"{web}/api/v1/health", timeout=5)
        assert answer.status_code == 200 and answer.json()["result"]["server_running"]
    finally:
        for sock in idle:
            sock.close()
