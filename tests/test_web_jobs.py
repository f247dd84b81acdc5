"""The CI jobs pages in a real browser (headless Chromium), served by the CI project's
runner: the queue with its counts, filters and pages, a running job's log growing on its
page, retry by the owner, and nothing of the kind for an anonymous visitor."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from browser import log_in, screenshot
from ci_support import handled_index
from helpers import make_wheel
from jobs_support import insert_job, live_runner, wait_for

from pipl.ci import db
from pipl.index.session import connect
from pipl.project.project import Project


@pytest.fixture(scope="module")
def live(ciproj: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_runner(ciproj, tmp_path_factory.mktemp("slowlog-site")) as url:
        yield url


@pytest.fixture(scope="module")
def owner_login(ciproj: Project) -> tuple[str, str]:
    return ciproj.owner, ciproj.secrets.password(ciproj.owner) or ""


@pytest.fixture(scope="module")
def index(ciproj: Project) -> str:
    with connect(ciproj, "admin") as admin:
        return handled_index(admin, ciproj, "webjobs", ["slowlog"])


def _state(project: Project, job_id: int) -> str:
    conn = db.open_db(project.root)
    try:
        return db.get_job(conn, job_id).state
    finally:
        conn.close()


def _message(project: Project, job_id: int) -> str:
    conn = db.open_db(project.root)
    try:
        return db.get_job(conn, job_id).message
    finally:
        conn.close()


def test_queue_counts_filters_and_pages(page, live: str, ciproj: Project, index: str) -> None:
    ids = [
        insert_job(ciproj, index, "pages-pkg", f"2.{n}", "slowlog", "failed" if n < 5 else "passed")
        for n in range(55)
    ]
    page.goto(f"{live}/jobs?packl=pages-pkg")
    assert page.inner_text("h1") == "CI jobs"
    counts = page.inner_text("#counts")
    assert "50 passed" in counts and "5 failed" in counts and "0 running" in counts
    rows = page.locator("#listed tr[data-job]")
    assert rows.count() == 50 and rows.first.get_attribute("data-job") == str(ids[-1])
    page.click("#older")
    assert page.locator("#listed tr[data-job]").count() == 5
    assert page.locator("#listed tr[data-job]").last.get_attribute("data-job") == str(ids[0])
    page.click("#newer")
    assert page.locator("#listed tr[data-job]").count() == 50
    # the filter form: failed jobs only
    page.select_option("select[name=state]", "failed")
    page.click("text=Filter")
    assert "state=failed" in page.url
    states = page.locator("#listed tr[data-job] .state").all_inner_texts()
    assert states == ["failed"] * 5
    page.goto(f"{live}/jobs?packl=../x")
    assert "invalid packl name" in page.inner_text("p.error")


def test_a_running_jobs_log_grows_on_its_page(
    page, live: str, ciproj: Project, index: str, owner_login, tmp_path
) -> None:
    with connect(ciproj, "owner") as owner:
        owner.upload(index, make_wheel(tmp_path, "webfollow-pkg", "1.0"))
    conn = db.open_db(ciproj.root)
    try:
        job = wait_for(lambda: next(iter(db.list_jobs(conn, project="webfollow-pkg")), None), 30)
    finally:
        conn.close()
    assert job is not None
    assert wait_for(lambda: _state(ciproj, job.id) == "running", 30)
    log_in(page, live, *owner_login)
    page.goto(f"{live}/jobs")
    assert page.locator(f"#running tr[data-job='{job.id}']").count() == 1
    screenshot(page, "jobs")
    page.click(f"#running a[href='/jobs/{job.id}']")
    assert page.inner_text("#job-state") == "running"
    assert page.is_visible("#cancel") and not page.is_visible("#retry")
    page.wait_for_function("document.getElementById('log').textContent.includes('step 2 of')")
    first = len(page.inner_text("#log"))
    time.sleep(1.5)
    later = len(page.inner_text("#log"))
    assert later > first  # it grows while the job runs
    assert page.inner_text("#job-state") == "running"
    screenshot(page, "job")
    page.wait_for_function("document.getElementById('log').dataset.done === '1'", timeout=30_000)
    assert "step 12 of 12" in page.inner_text("#log") and "== passed" in page.inner_text("#log")
    assert page.inner_text("#job-state") == "passed"
    assert page.locator("#release").count() == 0  # cip/webjobs is no stage: no release page


def test_the_owner_retries_a_failed_job(page, live: str, ciproj: Project, owner_login) -> None:
    job_id = insert_job(ciproj, "cip/dev", "retry-pkg", "1.0", "nosuch", "failed")
    log_in(page, live, *owner_login)
    page.goto(f"{live}/jobs/{job_id}")
    assert page.inner_text("#job-state") == "failed"
    assert page.get_attribute("#release", "href") == "/releases/dev/retry-pkg/1.0"
    page.click("#retry")
    page.wait_for_url(f"{live}/jobs/{job_id}")
    # the runner takes it again at once (it may have by the time the page shows): the
    # handler is not installed, so it fails once more, with the runner's message
    shown = page.inner_text("#job-message")
    assert shown == "retried by a user" or shown.startswith("no CI handler 'nosuch'")
    assert wait_for(lambda: _message(ciproj, job_id).startswith("no CI handler 'nosuch'"), 30)
    assert _state(ciproj, job_id) == "failed"


def test_anonymous_cannot_retry(page, live: str, ciproj: Project) -> None:
    job_id = insert_job(ciproj, "cip/dev", "anon-pkg", "1.0", "nosuch", "failed")
    page.goto(f"{live}/jobs/{job_id}")
    assert page.inner_text("#job-state") == "failed"
    assert page.locator("#retry").count() == 0 and page.locator("#cancel").count() == 0
    with httpx.Client(base_url=live) as forger:
        # a POST without this site's CSRF token is refused ...
        assert forger.post(f"/jobs/{job_id}/retry", data={}).status_code == 403
        # ... and with it, an anonymous visitor still may not retry
        forger.get("/jobs")
        refused = forger.post(f"/jobs/{job_id}/retry", data={"csrf": forger.cookies["pipl_csrf"]})
        assert refused.status_code == 401 and "needs a logged-in user" in refused.text
        api = forger.post(f"/api/v1/jobs/{job_id}/retry")
        assert api.status_code == 401
    assert _state(ciproj, job_id) == "failed"
