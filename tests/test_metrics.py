"""The runner's /metrics page (Prometheus' text format, read with prometheus_client's own
parser) and ``pipl proj status --json`` as a monitor reads them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ci_support import handled_index
from helpers import make_wheel, run
from jobs_support import live_runner, wait_for
from prometheus_client.parser import text_string_to_metric_families

from pipl.ci import db, outbox
from pipl.index.session import connect
from pipl.project.project import Project
from pipl.web.server import WebServer
from tests.conftest import new_project


def scrape(url: str) -> tuple[dict[tuple[str, tuple[tuple[str, str], ...]], float], str]:
    """Every sample of ``url``/metrics by (name, labels), and the raw text."""
    response = httpx.get(f"{url}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    text = response.text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return samples, text


def _event(conn, name: str, recorded: float, filename: str) -> outbox.Event:
    outbox.record_event(
        conn,
        index="studio/dev",
        project=name,
        version="1.0",
        filename=filename,
        sha256="a" * 64,
        serial=1,
        source="test",
    )
    conn.execute("UPDATE events SET recorded = ? WHERE filename = ?", (recorded, filename))
    [event] = [e for e in outbox.pending_events(conn) if e.filename == filename]
    return event


def _job(conn, event, handler: str, state: str, started=None, finished=None, reason=""):
    db.add_job(conn, handler=handler, rank=1, event=event, key="", reason=reason)
    conn.execute(
        "UPDATE jobs SET state = ?, started = ?, finished = ? WHERE event_id = ? AND handler = ?",
        (state, started, finished, event.id, handler),
    )


@pytest.fixture
def figures_project(tmp_path: Path) -> Iterator[tuple[Project, str]]:
    """A project whose CI database holds known jobs, and its web server's URL (the server
    the runner starts; no devpi is needed to read the CI database)."""
    project = new_project(tmp_path / "figures")
    conn = db.open_db(project.root)
    t = 1_000_000.0
    quick = _event(conn, "hidden-name-one", t, "hidden_name_one-1.0.tar.gz")
    slow = _event(conn, "hidden-name-two", t + 10, "hidden_name_two-1.0.tar.gz")
    late = _event(conn, "hidden-name-three", t + 20, "hidden_name_three-1.0.tar.gz")
    outbox.mark_taken(conn, [quick.id, slow.id])
    _job(conn, quick, "qa", "passed", started=t + 0.3, finished=t + 3.3)  # 3 s, waited 0.3
    _job(conn, slow, "qa", "failed", started=t + 14, finished=t + 114)  # 100 s, waited 4
    _job(conn, quick, "wheel", "running", started=t + 2)  # waited 2
    _job(conn, slow, "wheel", "queued")
    _job(conn, late, "wheel", "queued")
    # a re-processing long after the upload: not an upload's latency
    _job(conn, late, "process", "passed", t + 5000, t + 5040, reason="upstream changed")
    conn.close()
    server = WebServer(project)
    url = server.start()
    yield project, url
    server.stop()


def test_metrics_count_the_queue_durations_latency_and_events(figures_project):
    _, url = figures_project
    samples, text = scrape(url)

    def value(name: str, **labels: str) -> float:
        return samples[name, tuple(sorted(labels.items()))]

    assert [value("pipl_ci_jobs", state=s) for s in db.STATES] == [2, 1, 2, 1, 0]
    assert value("pipl_ci_events_recorded_total") == 3
    assert value("pipl_ci_events_taken_total") == 2
    assert value("pipl_ci_events_pending") == 1
    assert value("pipl_ci_jobs_made_total", handler="wheel") == 3
    assert value("pipl_ci_jobs_made_total", handler="qa") == 2

    took = "pipl_ci_job_duration_seconds"
    assert value(f"{took}_count", handler="qa", state="passed") == 1
    assert value(f"{took}_sum", handler="qa", state="failed") == pytest.approx(100)
    assert value(f"{took}_bucket", handler="qa", state="passed", le="5.0") == 1
    assert value(f"{took}_bucket", handler="qa", state="failed", le="60.0") == 0
    assert value(f"{took}_bucket", handler="qa", state="failed", le="120.0") == 1
    assert value(f"{took}_bucket", handler="process", state="passed", le="+Inf") == 1
    assert (f"{took}_count", (("handler", "wheel"), ("state", "running"))) not in samples

    waited = "pipl_ci_upload_to_start_seconds"
    assert value(f"{waited}_count", handler="qa") == 2
    assert value(f"{waited}_sum", handler="qa") == pytest.approx(4.3)
    assert value(f"{waited}_bucket", handler="qa", le="0.5") == 1
    assert value(f"{waited}_bucket", handler="qa", le="5.0") == 2
    assert value(f"{waited}_count", handler="wheel") == 1  # running: it has started
    assert (f"{waited}_count", (("handler", "process"),)) not in samples  # a re-processing

    assert "hidden" not in text and "studio" not in text  # handler and state names only
    labels = {name for (_, pairs) in samples for name, _ in pairs}
    assert labels == {"state", "handler", "le"}


def test_a_project_without_ci_has_zero_figures_and_says_what_is_down(tmp_path):
    project = new_project(tmp_path / "quiet")
    server = WebServer(project)
    url = server.start()
    try:
        samples, _ = scrape(url)
        assert httpx.post(f"{url}/metrics", timeout=30).status_code == 405
    finally:
        server.stop()
    assert samples["pipl_ci_jobs", (("state", "queued"),)] == 0
    assert samples["pipl_ci_events_recorded_total", ()] == 0

    result = run(["proj", "status", "--json"], project=project.root)
    assert result.exit_code == 0  # a monitor reads the document, whatever the health
    data = json.loads(result.stdout)["data"]
    assert data["health"]["ok"] is False
    assert data["health"]["problems"][:2] == [
        "the server is not running: pipl proj start --detach",
        "the CI runner is not running: pipl proj start --detach",
    ]
    assert data["ci"]["jobs"] == dict.fromkeys(db.STATES, 0) and data["ci"]["metrics"] is None
    assert data["ci"]["events"] == {"recorded": 0, "taken": 0, "pending": 0}


@pytest.fixture(scope="module")
def live(ciproj: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_runner(ciproj, tmp_path_factory.mktemp("metrics-site")) as url:
        yield url


def test_an_upload_shows_on_the_runners_metrics(ciproj: Project, live: str, tmp_path) -> None:
    with connect(ciproj, "admin") as admin:
        index = handled_index(admin, ciproj, "metered", ["slowlog"])
    before, _ = scrape(live)
    recorded = before.get(("pipl_ci_events_recorded_total", ()), 0)
    started = before.get(("pipl_ci_upload_to_start_seconds_count", (("handler", "slowlog"),)), 0)
    passed = ("pipl_ci_job_duration_seconds_count", (("handler", "slowlog"), ("state", "passed")))
    took_before = before.get(
        ("pipl_ci_job_duration_seconds_sum", (("handler", "slowlog"), ("state", "passed"))), 0
    )
    with connect(ciproj, "owner") as owner:
        owner.upload(index, make_wheel(tmp_path, "metered-pkg", "1.0"))

    def ran() -> dict | None:
        # this upload's job ended: one more than before (earlier tests' slowlog jobs count)
        samples, _ = scrape(live)
        return samples if samples.get(passed, 0) >= before.get(passed, 0) + 1 else None

    samples = wait_for(ran, 120, every=0.5)
    assert samples is not None, scrape(live)[1]
    assert samples["pipl_ci_events_recorded_total", ()] == recorded + 1
    assert samples["pipl_ci_upload_to_start_seconds_count", (("handler", "slowlog"),)] == (
        started + 1
    )
    took = (
        samples["pipl_ci_job_duration_seconds_sum", (("handler", "slowlog"), ("state", "passed"))]
        - took_before
    )
    assert 4 < took < 60  # slowlog takes 12 steps of 0.4 s

    status = json.loads(run(["proj", "status", "--json"], project=ciproj.root).output)["data"]
    assert status["ci"]["running"] is True and status["ci"]["metrics"] == f"{live}/metrics"
    assert status["ci"]["events"]["recorded"] == samples["pipl_ci_events_recorded_total", ()]
    assert status["ci"]["jobs"]["passed"] == samples["pipl_ci_jobs", (("state", "passed"),)]
    assert status["health"]["ok"] is (status["ci"]["sandbox"]["state"] == "ok")
    human = run(["proj", "status"], project=ciproj.root).output
    assert f"metrics:      {live}/metrics  (Prometheus)" in human


def test_a_ci_database_that_cannot_be_read_is_a_503(tmp_path):
    project = new_project(tmp_path / "broken")
    server = WebServer(project)
    url = server.start()  # it brings the CI database up to date: broken afterwards
    for name in (outbox.DB_NAME, f"{outbox.DB_NAME}-wal", f"{outbox.DB_NAME}-shm"):
        (outbox.ci_dir(project.root) / name).unlink(missing_ok=True)
    (outbox.ci_dir(project.root) / outbox.DB_NAME).write_bytes(b"not a database at all" * 100)
    try:
        response = httpx.get(f"{url}/metrics", timeout=30)
    finally:
        server.stop()
    assert response.status_code == 503
    assert response.text.startswith("the CI database cannot be read now (")
