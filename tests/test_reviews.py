"""Reviews of releases: the release's reviewers approve or reject it on a stage, with a
comment, for the files it has there; its uploader may not approve it, a reject needs a
comment, anonymous callers decide nothing, and an approval stops counting once the
release's files change. The API, the CLI and the release page give the same answer."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from pipl.api.client import Client
from pipl.api.models import to_json
from pipl.ci import reviews as store
from pipl.errors import AuthError, UsageError
from pipl.index.client import IndexClient
from pipl.index.session import connect
from pipl.project.project import Project
from tests.browser import log_in
from tests.helpers import fails, make_wheel, run
from tests.test_server_rules import twine

BOB, CAROL = "rev-bob", "rev-carol"
PASSWORDS = {BOB: "bob-secret-9", CAROL: "carol-secret-9"}


@pytest.fixture(scope="module")
def users(project: Project) -> Iterator[dict[str, str]]:
    """Bob uploads the releases (so he maintains them on the first stage); carol is
    another user of the server."""
    with connect(project, "admin") as admin:
        for name, password in PASSWORDS.items():
            if name not in admin.users():
                admin.create_user(name, password)
        yield PASSWORDS
        for name in PASSWORDS:
            admin.delete_user(name)


def bob_uploads(project: Project, tmp_path: Path, name: str, body: str = "") -> Path:
    """Bob uploads ``name`` 1.0 to the first stage with twine; the wheel."""
    wheel = make_wheel(tmp_path / name, name, "1.0", body=body)
    url = f"{project.url}/{project.stage_index()}"
    done = twine(url, BOB, PASSWORDS[BOB], wheel)
    assert done.returncode == 0, done.stdout + done.stderr
    return wheel


@contextmanager
def api(web: str, project: Project, user: str | None) -> Iterator[Client]:
    """A remote client of the API, logged in as ``user`` (None: anonymous)."""
    with Client(web) as client:
        if user is not None:
            password = PASSWORDS.get(user) or project.secrets.password(user) or ""
            client.login(user, password)
        yield client


@contextmanager
def dashboard(web: str, project: Project, user: str) -> Iterator[httpx.Client]:
    """A browser-like client (cookies) logged in to the dashboard as ``user``."""
    password = PASSWORDS.get(user) or project.secrets.password(user) or ""
    with httpx.Client(base_url=web) as client:
        client.get("/login")
        csrf = client.cookies["pipl_csrf"]
        answer = client.post("/login", data={"user": user, "password": password, "csrf": csrf})
        assert answer.status_code == 303, answer.text
        yield client


def rows(html: str) -> list[tuple[str, str, str]]:
    """(user, decision, valid) of each row of the page's review list."""
    return re.findall(
        r'<tr data-user="([^"]+)" data-decision="([^"]+)" data-valid="([^"]+)">', html
    )


def test_the_uploader_may_not_approve_their_own_release(project, web, users, tmp_path):
    bob_uploads(project, tmp_path, "rev-own")
    with api(web, project, BOB) as bob:
        with pytest.raises(AuthError) as refused:
            bob.releases.review("dev", "rev-own", "1.0", "approve", "mine, and fine")
        assert refused.value.status == 403
        assert str(refused.value) == (
            f"{BOB} uploaded rev-own 1.0 on {project.stage_index()} and may not approve it: "
            "another of its reviewers approves it"
        )
        assert bob.releases.reviews("dev", "rev-own", "1.0").reviews == []
        # he maintains it, so he may reject it (with a comment)
        done = bob.releases.review("dev", "rev-own", "1.0", "reject", "the tests are red")
        assert (done.user, done.decision, done.valid) == (BOB, "reject", True)


def test_the_owner_approves_and_the_api_and_the_page_show_it(project, web, users, tmp_path):
    bob_uploads(project, tmp_path, "rev-tool")
    with api(web, project, project.owner) as owner:
        done = owner.releases.review("dev", "Rev_Tool", "1.0", "approve", " plates look right ")
        assert (done.user, done.decision, done.comment) == (
            project.owner,
            "approve",
            "plates look right",
        )
        found = owner.releases.reviews("dev", "rev-tool", "1.0")
    assert found.approved_by == [project.owner]
    assert found.uploaders == [BOB]
    assert [(r.user, r.decision, r.valid) for r in found.reviews] == [
        (project.owner, "approve", True)
    ]
    assert found.reviews[0].files == found.files and len(found.files) == 1
    page = httpx.get(f"{web}/releases/dev/rev-tool/1.0")
    assert page.status_code == 200
    assert rows(page.text) == [(project.owner, "approve", "yes")]
    assert "plates look right" in page.text
    assert 'id="review-form"' not in page.text  # anonymous visitors get no buttons


def test_the_page_offers_each_user_what_they_may_decide(project, web, users, tmp_path):
    bob_uploads(project, tmp_path, "rev-page")
    with dashboard(web, project, BOB) as bob:
        html = bob.get("/releases/dev/rev-page/1.0").text
        assert 'id="reject"' in html and 'id="approve"' not in html
        csrf = bob.cookies["pipl_csrf"]
        form = {"csrf": csrf, "decision": "approve", "comment": "self"}
        refused = bob.post("/releases/dev/rev-page/1.0/review", data=form)
        assert refused.status_code == 403
        assert f"{BOB} uploaded rev-page 1.0" in refused.text
    with dashboard(web, project, CAROL) as carol:
        assert 'id="review-form"' not in carol.get("/releases/dev/rev-page/1.0").text
    with dashboard(web, project, project.owner) as owner:
        html = owner.get("/releases/dev/rev-page/1.0").text
        assert 'id="approve"' in html and 'id="reject"' in html
        csrf = owner.cookies["pipl_csrf"]
        stale = owner.post(
            "/releases/dev/rev-page/1.0/review", data={"csrf": "stale", "decision": "approve"}
        )
        assert stale.status_code == 403
        form = {"csrf": csrf, "decision": "approve", "comment": "ok to go"}
        answer = owner.post("/releases/dev/rev-page/1.0/review", data=form)
        assert answer.status_code == 303
        assert answer.headers["location"].endswith("#reviews")
        assert rows(owner.get("/releases/dev/rev-page/1.0").text) == [
            (project.owner, "approve", "yes")
        ]


def test_new_files_need_a_new_approval(project, web, users, tmp_path):
    bob_uploads(project, tmp_path / "a", "rev-redo", body="A = 1\n")
    index = project.stage_index()
    with api(web, project, project.owner) as owner:
        owner.releases.review("dev", "rev-redo", "1.0", "approve")
        before = owner.releases.reviews("dev", "rev-redo", "1.0")
        assert before.approved_by == [project.owner]
        assert store.approvals_for(project, index, "rev-redo", "1.0", before.files) == [
            project.owner
        ]
        other = make_wheel(tmp_path / "b", "rev-redo", "1.0", body="B = 2\n")
        with IndexClient(project.url) as bob:
            bob.login(BOB, PASSWORDS[BOB])
            assert bob.upload(index, other, replace=True).replaced
        after = owner.releases.reviews("dev", "rev-redo", "1.0")
    assert after.files != before.files
    assert after.approved_by == []
    assert [(r.user, r.valid) for r in after.reviews] == [(project.owner, False)]
    assert store.approvals_for(project, index, "rev-redo", "1.0", after.files) == []
    page = httpx.get(f"{web}/releases/dev/rev-redo/1.0").text
    assert rows(page) == [(project.owner, "approve", "no")]


def test_a_reject_needs_a_comment_and_ends_the_users_approval(project, web, users, tmp_path):
    bob_uploads(project, tmp_path, "rev-reject")
    with api(web, project, project.owner) as owner:
        owner.releases.review("dev", "rev-reject", "1.0", "approve")
        with pytest.raises(UsageError, match="^a reject needs a comment: say what is wrong"):
            owner.releases.review("dev", "rev-reject", "1.0", "reject", "  ")
        assert owner.releases.reviews("dev", "rev-reject", "1.0").approved_by == [project.owner]
        owner.releases.review("dev", "rev-reject", "1.0", "reject", "frame 12 is black")
        found = owner.releases.reviews("dev", "rev-reject", "1.0")
    assert found.approved_by == []
    assert [(r.decision, r.valid) for r in found.reviews] == [("approve", False), ("reject", True)]


def test_anonymous_callers_and_strangers_decide_nothing(project, web, users, tmp_path):
    bob_uploads(project, tmp_path, "rev-anon")
    with api(web, project, None) as anonymous:
        with pytest.raises(AuthError, match="needs a logged-in user") as refused:
            anonymous.releases.review("dev", "rev-anon", "1.0", "reject", "no")
        assert refused.value.status == 401
        assert anonymous.releases.reviews("dev", "rev-anon", "1.0").may_reject is False
    with api(web, project, CAROL) as carol:
        with pytest.raises(AuthError, match=f"^{CAROL} may not approve rev-anon 1.0") as refused:
            carol.releases.review("dev", "rev-anon", "1.0", "approve")
        assert refused.value.status == 403
        assert carol.releases.reviews("dev", "rev-anon", "1.0").reviews == []


def test_named_reviewers_may_decide(project, web, users, tmp_path):
    bob_uploads(project, tmp_path, "rev-named")
    toml = project.root / "pipl.toml"
    original = toml.read_text()
    toml.write_text(original + f'\n[reviews]\nreviewers = ["{CAROL}"]\n')
    try:
        with api(web, project, CAROL) as carol:
            done = carol.releases.review("dev", "rev-named", "1.0", "approve", "seen it")
            assert done.valid
            assert carol.releases.reviews("dev", "rev-named", "1.0").approved_by == [CAROL]
    finally:
        toml.write_text(original)


def test_the_cli_and_the_api_give_the_same_answer(project, web, users, tmp_path):
    bob_uploads(project, tmp_path, "rev-cli")
    root = Path(project.root)
    # the CLI acts as the owner here (the project's secrets are readable)
    fails(
        run(
            ["proj", "index", "review", "reject", "rev-cli", "1.0", "--stage", "dev"], project=root
        ),
        2,
        "a reject needs a comment",
    )
    done = run(
        ["proj", "index", "review", "approve", "rev-cli", "1.0", "--stage", "dev", "--json"],
        project=root,
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["data"]["user"] == project.owner
    listed = run(
        ["proj", "index", "reviews", "rev-cli", "1.0", "--stage", "dev", "--json"], project=root
    )
    assert listed.exit_code == 0, listed.output
    with api(web, project, project.owner) as owner:
        answer = to_json(owner.releases.reviews("dev", "rev-cli", "1.0"))
    assert json.loads(listed.stdout)["data"] == answer
    assert answer["approved_by"] == [project.owner]
    text = run(["proj", "index", "reviews", "rev-cli", "1.0", "--stage", "dev"], project=root)
    assert f"rev-cli 1.0 on {project.stage_index()} is approved by {project.owner}" in text.stdout
    # as bob, the uploader, the CLI is refused what the API refuses him
    login = ["proj", "login", BOB, "--password-stdin"]
    assert run(login, input=PASSWORDS[BOB] + "\n", project=root).exit_code == 0
    try:
        refused = run(
            ["proj", "index", "review", "approve", "rev-cli", "1.0", "--stage", "dev"], project=root
        )
        fails(refused, 5, f"{BOB} uploaded rev-cli 1.0", "may not approve it")
    finally:
        assert run(["proj", "logout"], project=root).exit_code == 0


def test_the_owner_approves_in_the_browser(page, project, web, users, tmp_path):
    bob_uploads(project, tmp_path, "rev-click")
    log_in(page, web, project.owner, project.secrets.password(project.owner) or "")
    page.goto(f"{web}/releases/dev/rev-click/1.0")
    page.fill("#review-form input[name=comment]", "graded and checked")
    page.click("#approve")
    assert page.inner_text("#note") == f"{project.owner} approved rev-click 1.0"
    row = f'#review-list tr[data-user="{project.owner}"]'
    assert page.get_attribute(row, "data-valid") == "yes"
    assert "graded and checked" in page.inner_text(row)
