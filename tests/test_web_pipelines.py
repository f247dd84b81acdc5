"""The pipelines pages in a real browser: the DAG with counts, the instance list, one
instance with its image and log, tags and delete for the owner, and nothing of the kind
for an anonymous visitor (a forged POST is refused)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser import log_in, screenshot

from pipl.project.project import Project
from tests.pipe_helpers import project_demo, start_slow_run, wait_until


@pytest.fixture(scope="module")
def shown(project: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = "web-demo"
    prefix = project_demo(project.state_dir, tmp_path_factory.mktemp("webdemo"), name)
    yield name
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture
def changed(project: Project, tmp_path: Path) -> Iterator[str]:
    """A pipeline this test may change."""
    name = "web-scratch"
    prefix = project_demo(project.state_dir, tmp_path, name)
    yield name
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(scope="module")
def owner_login(project: Project) -> tuple[str, str]:
    return project.owner, project.secrets.password(project.owner) or ""


def _square_2(page) -> None:  # type: ignore[no-untyped-def]
    """Open the instance of ``square`` whose input is 2 from the pipeline's page."""
    page.click("#segments >> text=square")
    page.click('#instance-list tr:has-text("\\"source\\": 2") a')
    page.wait_for_selector("#facts")


def test_open_a_dag_with_counts_and_instances(page, web: str, shown: str, owner_login) -> None:
    log_in(page, web, *owner_login)
    page.goto(f"{web}/pipelines")
    row = page.locator("#pipelines tr", has_text=shown)
    assert "7 done" in row.inner_text() and "1 failed" in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_selector("#graph svg")
    graph = page.inner_text("#graph")
    assert "source" in graph and "3 done · 0 failed" in graph and "2 done · 1 failed" in graph
    assert page.inner_text("#total").startswith("8 instance(s)")
    assert page.is_visible("#run-form")  # the owner may run it again
    screenshot(page, "pipeline")
    # a segment of the picture links to its instances; the filter keeps to it
    page.click("#graph svg a:has-text('label')")
    page.wait_for_selector("#total")
    assert page.inner_text("#total").startswith("2 instance(s)")
    page.select_option("select[name=status]", "failed")
    page.select_option("select[name=segment]", "square")
    page.click("form.filters button")
    page.wait_for_selector("#instance-list")
    assert page.inner_text("#total").startswith("1 instance(s)")
    assert "three is not welcome" in page.inner_text("#instance-list")


def test_open_an_instance_with_its_image_and_log(page, web: str, shown: str, owner_login) -> None:
    log_in(page, web, *owner_login)
    page.goto(f"{web}/pipelines/{shown}")
    _square_2(page)
    assert page.inner_text("#status") == "done"
    assert "squaring 2" in page.inner_text("#log")
    assert "threshold" in page.inner_text("#exposed") and "20" in page.inner_text("#exposed")
    assert "threshold" not in page.inner_text("#params")
    page.wait_for_function("document.querySelector('#files img').complete")
    assert page.evaluate("document.querySelector('#files img').naturalWidth") == 48
    link = page.locator("#files a", has_text="square.txt")
    assert link.get_attribute("download") is not None
    screenshot(page, "instance")


def test_the_owner_tags_and_deletes(page, web: str, changed: str, owner_login) -> None:
    log_in(page, web, *owner_login)
    page.goto(f"{web}/pipelines/{changed}")
    _square_2(page)
    page.fill("#tag-form input[name=tag]", "keeper")
    page.click("#tag-form button")
    page.wait_for_selector("#tags .tag")
    assert "keeper" in page.inner_text("#tags")
    page.goto(f"{web}/pipelines/{changed}?tag=keeper")
    assert page.inner_text("#total").startswith("1 instance(s)")
    page.go_back()
    page.click("#tags button.untag")
    page.wait_for_selector("#tags .muted")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#delete-form button")
    page.wait_for_selector("#instance-list")
    assert page.inner_text("#total").startswith("2 instance(s)")  # 1 done + 1 failed left
    assert '"source": 2' not in page.inner_text("#instance-list")
    # running again computes it again; the page follows the run until it ends
    page.click("#run-form button")
    page.wait_for_selector("#runs tr:nth-child(2) td:first-child:text-is('2')")
    page.wait_for_selector("#runs tr:nth-child(2) .state.failed", timeout=60_000)
    page.goto(f"{web}/pipelines/{changed}?segment=square")
    assert '"source": 2' in page.inner_text("#instance-list")


def test_anonymous_visitors_cannot_change_anything(page, web: str, changed: str) -> None:
    page.goto(f"{web}/pipelines/{changed}")
    assert not page.is_visible("#run-form")
    _square_2(page)
    url = page.url
    assert page.is_visible("#log")
    assert page.locator("#delete-form").count() == 0
    assert page.locator("#tag-form").count() == 0
    with httpx.Client() as forger:
        forger.get(url)  # a CSRF cookie of its own, but no login and no form token
        for action in ("delete", "tag", "untag"):
            answer = forger.post(f"{url}/{action}", data={"tag": "x"})
            assert answer.status_code == 403 and "CSRF" in answer.text, action
        csrf = forger.cookies["pipl_csrf"]
        answer = forger.post(f"{url}/delete", data={"csrf": csrf})
        assert answer.status_code == 401 and "needs a logged-in user" in answer.text
    page.reload()
    assert page.inner_text("#status") == "done"  # still there


@pytest.fixture
def rekeyed(project: Project, tmp_path: Path) -> Iterator[str]:
    """The demo pipeline run twice: ``label``'s prefix changed between the runs (two keys)."""
    from pipl.pipe import run
    from tests.pipe_helpers import demo_pipeline

    name = "web-rekeyed"
    prefix = project_demo(project.state_dir, tmp_path, name)
    again = demo_pipeline(tmp_path / "code", prefix, name)
    again.segments["label"]["params"]["prefix"] = "m="
    run(again, executor="interactive")
    yield name
    shutil.rmtree(prefix, ignore_errors=True)


def test_a_tracked_workspace_pipeline_is_listed_and_browsed(
    page, web: str, project: Project, tmp_path: Path, owner_login
) -> None:
    from pipl.pipe import run
    from pipl.pipe.track import track, untrack
    from tests.pipe_helpers import demo_pipeline

    p = demo_pipeline(tmp_path / "code", tmp_path / "ws-data", "web-ws")
    run(p, executor="interactive")
    track(project.state_dir, "web-ws", p.prefix)
    try:
        log_in(page, web, *owner_login)
        page.goto(f"{web}/pipelines")
        row = page.locator("#pipelines tr", has_text="web-ws")
        assert "workspace" in row.inner_text() and "7 done" in row.inner_text()
        row.locator("a").first.click()
        page.wait_for_selector("#graph")
        assert page.inner_text("#total").startswith("8 instance(s)")
        assert page.locator("#run-form").count() == 0  # it runs in its workspace
        assert "pipl pipe run" in page.inner_text("#workspace-note")
    finally:
        untrack(project.state_dir, "web-ws")
    page.goto(f"{web}/pipelines")
    assert "web-ws" not in page.inner_text("main")


def test_the_code_of_a_key_and_two_keys_compared(page, web: str, rekeyed: str, owner_login) -> None:
    page.goto(f"{web}/pipelines/{rekeyed}")
    page.locator("#segments tr", has_text="label").locator("a.code-link").click()
    page.wait_for_selector("#code-files")
    assert "labelling" in page.inner_text("#code-files")
    assert '"m="' in page.inner_text("#code-params")
    assert "square" in page.inner_text("#parents")
    assert page.locator("#keys tr").count() == 3  # a header and two keys
    screenshot(page, "segment-code")
    page.click("#keys >> text=compare with this key")
    page.wait_for_selector("#differences")
    differences = page.inner_text("#differences")
    assert "param prefix" in differences and '"n="' in differences and '"m="' in differences
    assert page.inner_text("#counts-a").startswith("2 done") and page.inner_text(
        "#counts-b"
    ).startswith("2 done")
    assert page.locator("#pairs tr").count() == 3  # each label instance beside its old one
    screenshot(page, "segment-compare")
    # the old instance opens under its own key
    old_key = page.input_value("select[name=a]")
    page.locator("#pairs tr:nth-child(2) td:nth-child(2) a.state").click()
    page.wait_for_selector("#facts")
    assert old_key in page.inner_text("#facts") and f"key={old_key}" in page.url
    assert page.inner_text("#status") == "done"
    # a segment with one key only says so
    page.goto(f"{web}/pipelines/{rekeyed}/compare/source")
    assert "one key only" in page.inner_text("#one-key")


def test_bulk_tag_date_filter_and_delete_with_dependents(
    page, web: str, changed: str, owner_login
) -> None:
    log_in(page, web, *owner_login)
    page.goto(f"{web}/pipelines/{changed}?segment=source")
    boxes = page.locator("#instance-list input[name=instances]")
    assert boxes.count() == 3
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.fill("#bulk-form input[name=tag]", "pair")
    page.click("#bulk-form button[value=tag]")
    page.wait_for_selector("#instance-list .tag")
    assert page.locator("#instance-list .tag", has_text="pair").count() == 2
    assert "segment=source" in page.url  # back to the same filtered list
    # the date filter: nothing started tomorrow, everything today
    tomorrow = time.strftime("%Y-%m-%d", time.localtime(time.time() + 86400))
    today = time.strftime("%Y-%m-%d")
    page.fill("input[name=since]", tomorrow)
    page.click("form.filters button")
    page.wait_for_selector("#total")
    assert page.inner_text("#total").startswith("0 instance(s)")
    page.goto(f"{web}/pipelines/{changed}?since={today}&until={today}")
    assert page.inner_text("#total").startswith("8 instance(s)")
    # delete source 2 with what came from it (its square and its label)
    page.goto(f"{web}/pipelines/{changed}?segment=source")
    page.locator('#instance-list tr:has-text("\\"source_phantom\\": 2") input').check()
    page.check("#bulk-form input[name=dependents]")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#bulk-form button[value=delete]")
    page.wait_for_selector("#total")
    assert page.inner_text("#total").startswith("2 instance(s)")
    page.goto(f"{web}/pipelines/{changed}")
    assert page.inner_text("#total").startswith("5 instance(s)")
    screenshot(page, "pipeline-bulk")


def test_delete_one_instance_with_its_dependents(page, web: str, changed: str, owner_login) -> None:
    log_in(page, web, *owner_login)
    page.goto(f"{web}/pipelines/{changed}")
    _square_2(page)
    assert "downstream" in page.inner_text("#delete-form")
    page.check("#with-dependents")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#delete-form button")
    page.wait_for_selector("#instance-list")
    page.goto(f"{web}/pipelines/{changed}?segment=label")
    assert page.inner_text("#total").startswith("1 instance(s)")  # the label of 4 went too


def test_anonymous_visitors_see_no_bulk_actions(page, web: str, changed: str) -> None:
    page.goto(f"{web}/pipelines/{changed}")
    assert page.locator("#bulk-form").count() == 0
    assert page.locator("#instance-list input[type=checkbox]").count() == 0
    with httpx.Client() as forger:
        forger.get(f"{web}/pipelines/{changed}")
        url = f"{web}/pipelines/{changed}/selected"
        data = {"action": "delete", "instances": "source/x", "dependents": "1"}
        answer = forger.post(url, data=data)
        assert answer.status_code == 403 and "CSRF" in answer.text
        answer = forger.post(url, data={**data, "csrf": forger.cookies["pipl_csrf"]})
        assert answer.status_code == 401 and "needs a logged-in user" in answer.text
    page.reload()
    assert page.inner_text("#total").startswith("8 instance(s)")


def test_the_owner_cancels_a_running_run(
    page, web: str, project: Project, owner_login, tmp_path: Path
) -> None:
    name = "web-slow"
    prefix = project.state_dir / "pipe-data" / name
    proc, ledger, _ = start_slow_run(tmp_path, prefix, count=40, jobs=1, seconds=0.3)
    try:
        wait_until(lambda: len(list(ledger.iterdir())) >= 2, 60, "the first instances")
        page.goto(f"{web}/pipelines/{name}")
        assert "running" in page.inner_text("#runs")
        assert page.locator("#cancel-form").count() == 0  # not for visitors
        with httpx.Client() as forger:
            forger.get(f"{web}/pipelines/{name}")
            answer = forger.post(f"{web}/pipelines/{name}/cancel")
            assert answer.status_code == 403 and "CSRF" in answer.text
            csrf = forger.cookies["pipl_csrf"]
            answer = forger.post(f"{web}/pipelines/{name}/cancel", data={"csrf": csrf})
            assert answer.status_code == 401 and "needs a logged-in user" in answer.text
        log_in(page, web, *owner_login)
        page.goto(f"{web}/pipelines/{name}")
        page.click("#cancel-form button")
        page.wait_for_selector("#runs tr:nth-child(2) .state.cancelled", timeout=30_000)
        assert "stopped by a cancel request" in page.inner_text("#runs")
        assert page.locator("#cancel-form").count() == 0  # nothing runs any more
        out, err = proc.communicate(timeout=30)
        assert out.split()[0] == "cancelled", err
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(prefix, ignore_errors=True)
