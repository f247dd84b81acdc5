"""A release's page lists the maintainers of its project on the stage; a maintainer adds
and removes users with its forms (the API's ``releases.maintainers_change``), and the
server then takes the added user's uploads. Anonymous visitors and other users see the
list without the forms, and the server's refusal shows as the page's one-line error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from pipl.errors import PiplError
from pipl.index.client import IndexClient
from pipl.index.session import connect
from pipl.project.project import Project
from tests.helpers import make_wheel

BOB, CAROL = "webm-bob", "webm-carol"
PASSWORDS = {BOB: "bob-secret-2", CAROL: "carol-secret-2"}
PAGE = "/releases/dev/webm-tool/1.0"


@pytest.fixture(scope="module")
def users(project: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Bob and carol; bob uploads webm-tool 1.0 to the first stage, so he maintains it."""
    with connect(project, "admin") as admin:
        for name, password in PASSWORDS.items():
            if name not in admin.users():
                admin.create_user(name, password)
        tmp = tmp_path_factory.mktemp("webm")
        upload(project, BOB, make_wheel(tmp / "1", "webm-tool", "1.0"))
        yield
        for name in PASSWORDS:
            admin.delete_user(name)


def upload(project: Project, user: str, wheel: Path) -> None:
    with IndexClient(project.url) as client:
        client.login(user, PASSWORDS[user])
        client.upload(project.stage_index(), wheel)


@contextmanager
def logged_in(web: str, user: str) -> Iterator[httpx.Client]:
    """A browser-like client (cookies) logged in to the dashboard as ``user``."""
    with httpx.Client(base_url=web) as client:
        client.get("/login")
        answer = client.post(
            "/login",
            data={"user": user, "password": PASSWORDS[user], "csrf": client.cookies["pipl_csrf"]},
        )
        assert answer.status_code == 303, answer.text
        yield client


def listed(html: str) -> list[str]:
    """The users of the page's maintainer list."""
    found = re.search(r'<ul id="maintainer-list">(.*?)</ul>', html, re.S)
    assert found, html
    return re.findall(r'<li data-user="([^"]+)"', found.group(1))


def error_line(html: str) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', html, re.S)
    assert found, html
    return found.group(1)


def test_the_release_page_lists_the_maintainers(web: str, project: Project, users) -> None:
    answer = httpx.get(f"{web}{PAGE}")
    assert answer.status_code == 200
    assert listed(answer.text) == [BOB]
    implicit = ", ".join(sorted({project.owner, "root"}))
    assert f"maintain every project on it: {implicit}." in answer.text


def test_an_anonymous_visitor_sees_no_form(web: str, users) -> None:
    html = httpx.get(f"{web}{PAGE}").text
    assert 'id="add-maintainer"' not in html and "remove-maintainer" not in html
    with httpx.Client(base_url=web) as visitor:
        visitor.get(PAGE)  # this site's CSRF token, but no login
        answer = visitor.post(
            f"{PAGE}/maintainers", data={"add": CAROL, "csrf": visitor.cookies["pipl_csrf"]}
        )
        assert answer.status_code == 401
        assert "log in" in error_line(answer.text)
    assert listed(httpx.get(f"{web}{PAGE}").text) == [BOB]


def test_a_post_without_the_csrf_token_is_refused(web: str, users) -> None:
    with logged_in(web, BOB) as bob:
        refused = bob.post(f"{PAGE}/maintainers", data={"add": CAROL})
        assert refused.status_code == 403 and "CSRF" in refused.text
        foreign = bob.post(
            f"{PAGE}/maintainers",
            data={"add": CAROL, "csrf": bob.cookies["pipl_csrf"]},
            headers={"Origin": "http://evil.example"},
        )
        assert foreign.status_code == 403
    with httpx.Client(base_url=web) as visitor:  # anonymous, no token either
        assert visitor.post(f"{PAGE}/maintainers", data={"add": CAROL}).status_code == 403
    assert listed(httpx.get(f"{web}{PAGE}").text) == [BOB]


def test_a_non_maintainer_sees_no_form_and_is_refused(web: str, users) -> None:
    with logged_in(web, CAROL) as carol:
        html = carol.get(PAGE).text
        assert listed(html) == [BOB]
        assert 'id="add-maintainer"' not in html and "remove-maintainer" not in html
        answer = carol.post(
            f"{PAGE}/maintainers", data={"add": CAROL, "csrf": carol.cookies["pipl_csrf"]}
        )
        assert answer.status_code == 403
        assert f"{CAROL} may not change the maintainers of webm-tool" in error_line(answer.text)
        assert listed(answer.text) == [BOB]  # the page itself, with its one-line error


def test_a_maintainer_adds_a_user_who_then_uploads(
    web: str, project: Project, users, tmp_path: Path
) -> None:
    newer = make_wheel(tmp_path / "2", "webm-tool", "1.1")
    with pytest.raises(PiplError, match=f"{CAROL} may not upload webm-tool"):
        upload(project, CAROL, newer)
    with logged_in(web, BOB) as bob:
        html = bob.get(PAGE).text
        assert 'id="add-maintainer"' in html and 'name="remove" value="webm-bob"' in html
        csrf = bob.cookies["pipl_csrf"]
        unknown = bob.post(f"{PAGE}/maintainers", data={"add": "webm-nobody", "csrf": csrf})
        assert unknown.status_code == 400
        assert "no such user: webm-nobody" in error_line(unknown.text)
        added = bob.post(f"{PAGE}/maintainers", data={"add": CAROL, "csrf": csrf})
        assert added.status_code == 303
        shown = bob.get(added.headers["location"]).text
        assert listed(shown) == [BOB, CAROL]
        assert f"added {CAROL} to the maintainers" in shown
    upload(project, CAROL, newer)  # the server now takes carol's upload
    with IndexClient(project.url) as anon:
        assert "1.1" in anon.versions(project.stage_index(), "webm-tool", inherited=False)

    with logged_in(web, CAROL) as carol:  # now a maintainer, carol removes bob
        removed = carol.post(
            f"{PAGE}/maintainers", data={"remove": BOB, "csrf": carol.cookies["pipl_csrf"]}
        )
        assert removed.status_code == 303
        assert listed(carol.get(removed.headers["location"]).text) == [CAROL]
    with logged_in(web, BOB) as bob:
        assert 'id="add-maintainer"' not in bob.get(PAGE).text
