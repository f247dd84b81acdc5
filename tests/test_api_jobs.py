"""CI jobs through pipl's client API, locally and over HTTP, against the CI project's real
server and its runner started in the background: lists with filters and pages, logs
followed while a job runs, retry and cancel for the owner only, ``client.wait`` after a
real upload (promotions and products included), and the server's users."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from ci_support import handled_index, task_sdist
from helpers import fails, make_wheel, run
from jobs_support import insert_job, live_runner, wait_for

from pipl import Client, PiplError
from pipl.errors import AuthError, NotFound, ServerNotRunning, UsageError
from pipl.index.session import connect
from pipl.project.project import Project
from tests.conftest import new_project

VISITOR = ("jobs-visitor", "visitor-pw-2")


@pytest.fixture(scope="module")
def live(ciproj: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # products get jobs too: prod has a handler while this module's runner runs (the
    # runner reads the handlers of an index it knows once)
    with connect(ciproj, "admin") as admin:
        before = admin.get_index("cip/prod").get("pipl_handlers") or []
        admin.modify_index("cip/prod", pipl_handlers=["webhook"])
    try:
        with live_runner(ciproj, tmp_path_factory.mktemp("slowlog-site")) as url:
            yield url
    finally:
        with connect(ciproj, "admin") as admin:
            admin.modify_index("cip/prod", pipl_handlers=before)


@pytest.fixture(scope="module")
def slow_index(ciproj: Project) -> str:
    with connect(ciproj, "admin") as admin:
        return handled_index(admin, ciproj, "slow", ["slowlog"])


@pytest.fixture(scope="module")
def owner_token(ciproj: Project, live: str) -> str:
    with Client(live) as client:
        return client.login(ciproj.owner, ciproj.secrets.password(ciproj.owner) or "").token


@pytest.fixture(scope="module")
def visitor_token(ciproj: Project, live: str) -> str:
    with Client.from_project(ciproj.root) as owner:
        if VISITOR[0] not in [u.name for u in owner.users.list()]:
            owner.users.add(*VISITOR)
    with Client(live) as client:
        return client.login(*VISITOR).token


@pytest.fixture(scope="module")
def paged(ciproj: Project) -> list[int]:
    """Seven ended jobs of packl 'paged-pkg' on their own index, oldest first."""
    with connect(ciproj, "admin") as admin:
        index = handled_index(admin, ciproj, "paged", ["webhook"])
    return [
        insert_job(
            ciproj,
            index,
            "paged-pkg",
            f"1.{n}",
            "qa" if n % 3 == 0 else "webhook",
            "failed" if n % 2 else "passed",
        )
        for n in range(7)
    ]


@pytest.mark.parametrize("where", ["local", "remote"])
def test_list_filters_and_pages(ciproj: Project, live: str, paged: list[int], where: str) -> None:
    client = Client.from_project(ciproj.root) if where == "local" else Client(live)
    with client:
        jobs = client.jobs.list(packl="paged-pkg")
        assert [j.id for j in jobs] == paged[::-1]  # newest first
        assert {j.index for j in jobs} == {"cip/paged"} and jobs[0].version == "1.6"
        failed = client.jobs.list("failed", packl="Paged_Pkg")
        assert [j.version for j in failed] == ["1.5", "1.3", "1.1"]
        assert [j.id for j in client.jobs.list(handler="qa", index="paged")] == [
            paged[6],
            paged[3],
            paged[0],
        ]
        both = client.jobs.list(["passed", "failed"], packl="paged-pkg", handler="webhook")
        assert len(both) == 4
        # pages of three, older by 'before', newer by 'after'
        first = client.jobs.list(packl="paged-pkg", limit=3)
        second = client.jobs.list(packl="paged-pkg", limit=3, before=first[-1].id)
        third = client.jobs.list(packl="paged-pkg", limit=3, before=second[-1].id)
        assert [j.id for j in first + second + third] == paged[::-1]
        assert [j.id for j in client.jobs.list(packl="paged-pkg", limit=3, after=third[0].id)] == [
            j.id for j in second
        ]
        counts = client.jobs.counts(packl="paged-pkg")
        assert counts == {"queued": 0, "running": 0, "passed": 4, "failed": 3, "cancelled": 0}
        job = client.jobs.get(paged[1])
        assert (job.handler, job.state, job.release) == ("webhook", "failed", "paged-pkg 1.1")
        with pytest.raises(NotFound, match="no CI job 9999999"):
            client.jobs.get(9999999)
        with pytest.raises(UsageError, match="unknown state 'bogus'"):
            client.jobs.list("bogus")
        with pytest.raises(UsageError, match="invalid packl name"):
            client.jobs.list(packl="../etc")


def test_logs_follow_a_running_job(ciproj: Project, live: str, slow_index: str, tmp_path) -> None:
    with connect(ciproj, "owner") as owner:
        owner.upload(slow_index, make_wheel(tmp_path, "follow-pkg", "1.0"))
    with Client(live) as client:  # anonymous: devpi lets anonymous visitors read
        job = wait_for(
            lambda: next(iter(client.jobs.list("running", packl="follow-pkg")), None), 60
        )
        assert job is not None, client.jobs.list(packl="follow-pkg")
        # a wait that runs out is one error naming the busy job
        with pytest.raises(PiplError, match=r"follow-pkg 1.0: 1 CI job\(s\) not finished"):
            client.wait("follow-pkg", "1.0", timeout=0.5)
        arrived: list[tuple[float, str, str]] = []
        for chunk in client.jobs.logs(job.id, follow=True, poll=0.2):
            arrived.append((time.monotonic(), chunk, client.jobs.get(job.id).state))
        text = "".join(c for _, c, _ in arrived)
    assert "step 1 of 12" in text and "step 12 of 12" in text and "== passed" in text
    # it came in parts while the job ran, over seconds, not at once at its end
    while_running = [c for _, c, state in arrived if state == "running"]
    assert len(while_running) >= 3, arrived
    assert arrived[-1][0] - arrived[0][0] > 1.5
    # read again from the start: the same text, in one go now that the job has ended
    with Client.from_project(ciproj.root) as local:
        assert "".join(local.jobs.logs(job.id)) == text
        chunk = local.jobs.log(job.id, offset=len(text.encode()))
        assert chunk.text == "" and chunk.done and chunk.state == "passed"


def test_retry_and_cancel_are_for_the_owner(
    ciproj: Project, live: str, slow_index: str, owner_token: str, visitor_token: str, tmp_path
) -> None:
    with connect(ciproj, "owner") as owner:
        owner.upload(slow_index, make_wheel(tmp_path, "forever-pkg", "1.0"))
    with Client(live) as anonymous:
        job = wait_for(lambda: next(iter(anonymous.jobs.list(packl="forever-pkg")), None), 60)
        assert job is not None
        with pytest.raises(AuthError, match="needs a logged-in user"):
            anonymous.jobs.cancel(job.id)
    with Client(live, token=visitor_token) as visitor:
        with pytest.raises(AuthError, match="is for the owner of project 'cip'"):
            visitor.jobs.cancel(job.id)
        with pytest.raises(AuthError, match="is for the owner"):
            visitor.jobs.retry(job.id)
        assert visitor.jobs.get(job.id).state in ("queued", "running")
    with Client(live, token=owner_token) as owner_client:
        wait_for(lambda: owner_client.jobs.get(job.id).state == "running", 30)
        cancelled = owner_client.jobs.cancel(job.id)
        assert cancelled.state == "cancelled" and cancelled.message == "cancelled by a user"
        with pytest.raises(UsageError, match="cancelled already"):
            owner_client.jobs.cancel(job.id)
        again = owner_client.jobs.retry(job.id)
        assert again.state == "queued" and again.message == "retried by a user"
        assert wait_for(lambda: owner_client.jobs.get(job.id).state == "running", 30)
        assert owner_client.jobs.cancel(job.id).state == "cancelled"
    with pytest.raises(AuthError), Client(live) as anonymous:
        anonymous.jobs.retry(job.id)
    # the CLI waits the same way, and says when a job did not pass
    fails(
        run(["ci", "wait", "forever-pkg", "1.0", "--timeout", "30"], project=ciproj.root),
        11,  # CiError
        "forever-pkg 1.0: 1 CI job(s) did not pass",
        f"pipl ci logs {job.id}",
    )


def test_the_cli_refuses_retry_to_others_as_the_api_does(
    ciproj: Project, live: str, visitor_token: str
) -> None:
    """``pipl ci`` carries out the API's operations as this machine's user: logged in as
    the visitor, a retry is refused as over HTTP; the owner's cancel of an ended job says
    why it cannot be done."""
    job_id = insert_job(ciproj, ciproj.stage_index(), "cli-refused", "1.0", "qa", "failed")
    login = ["proj", "login", VISITOR[0], "--password-stdin"]
    assert run(login, input=VISITOR[1] + "\n", project=ciproj.root).exit_code == 0
    try:
        fails(
            run(["ci", "retry", str(job_id)], project=ciproj.root),
            5,  # Forbidden
            "retry a CI job is for the owner of project 'cip'",
            f"not {VISITOR[0]!r}",
        )
        shown = run(["ci", "show", str(job_id)], project=ciproj.root)
        assert shown.exit_code == 0 and "state:    failed (attempt" in shown.output
    finally:
        assert run(["proj", "logout"], project=ciproj.root).exit_code == 0
    fails(run(["ci", "cancel", str(job_id)], project=ciproj.root), 2, "failed already")
    fails(run(["ci", "logs", "99999999"], project=ciproj.root), 2, "no CI job 99999999")


def test_the_owner_reaches_the_jobs_while_the_server_is_stopped(tmp_path) -> None:
    """On this machine the owner (the project's secrets are readable) sees the CI jobs
    without the server; what needs the server says to start it."""
    project = new_project(tmp_path / "stopped")
    insert_job(project, project.stage_index(), "offline-pkg", "1.0", "qa", "passed")
    with Client.from_project(project.root) as client:
        assert client.whoami().user == project.owner
        assert [j.project for j in client.jobs.list()] == ["offline-pkg"]
        assert client.health().server_running is False
        with pytest.raises(ServerNotRunning, match="pipl proj start"):
            client.releases.stages()
    listed = run(["ci", "list"], project=project.root)
    assert listed.exit_code == 0 and "offline-pkg" in listed.output


def test_wait_follows_promotions_and_products(ciproj: Project, live: str, tmp_path) -> None:
    sdist = task_sdist(tmp_path, "wait-task", "0.1.0")
    with connect(ciproj, "owner") as owner:
        owner.upload("cip/dev", sdist)
    with Client.from_project(ciproj.root) as client:
        seen = client.wait("wait-task", "0.1.0", timeout=300)
    states = {(j.index, j.project, j.handler): j.state for j in seen.jobs}
    for expected in [
        ("cip/dev", "wait-task", "wheel"),
        ("cip/dev", "wait-task", "qa"),
        ("cip/dev", "wait-task", "promote"),
        ("cip/qa", "wait-task", "promote"),
        ("cip/qa", "wait-task", "process"),
        ("cip/prod", "wait-task-report", "webhook"),  # the product's job
    ]:
        assert states.get(expected) == "passed", (expected, states)
    assert seen.finished and seen.ok and seen.pending == 0
    by_handler = {(j.index, j.handler): j for j in seen.jobs}
    reached = {(r.index, r.project, r.version): r.by_job for r in seen.releases}
    assert reached[("cip/qa", "wait-task", "0.1.0")] == by_handler["cip/dev", "promote"].id
    # the product lands beside its release (qa), and its own promote job moves it on
    process = next(j for j in seen.jobs if j.handler == "process" and j.project == "wait-task")
    assert reached[("cip/qa", "wait-task-report", "0.1.0")] == process.id
    assert reached[("cip/prod", "wait-task-report", "0.1.0")] is not None
    assert reached[("cip/dev", "wait-task", "0.1.0")] is None  # the upload's own
    cli = run(["ci", "wait", "wait-task", "0.1.0", "--timeout", "60"], project=ciproj.root)
    assert cli.exit_code == 0, cli.output
    assert "wait-task-report" in cli.output and cli.output.strip().endswith(
        f"{len(seen.jobs)} passed"
    )


def test_users_for_root_and_the_owner(ciproj: Project, live: str, visitor_token: str) -> None:
    with Client.from_project(ciproj.root) as owner:
        added = owner.users.add("jobs-temp", "temp-pw-123", email="t@studio.example")
        assert ("jobs-temp", "t@studio.example") in [(u.name, u.email) for u in added]
        with pytest.raises(UsageError, match="needed by the project"):
            owner.users.delete("root")
        with pytest.raises(UsageError, match="invalid user name"):
            owner.users.add("../x", "pw-pw-pw-1")
        assert "jobs-temp" not in [u.name for u in owner.users.delete("jobs-temp")]
    with Client(live, token=visitor_token) as visitor, pytest.raises(AuthError, match="owner"):
        visitor.users.list()
    with Client(live) as anonymous, pytest.raises(AuthError, match="logged-in user"):
        anonymous.users.add("sneaky", "sneaky-pw-1")


def test_waiting_for_a_release_never_published_is_one_error(ciproj: Project) -> None:
    with Client.from_project(ciproj.root) as client, pytest.raises(NotFound, match="publish it"):
        client.wait("never-published", "1.0", timeout=5)
    fails(
        run(["ci", "wait", "never-published", "1.0", "--timeout", "5"], project=ciproj.root),
        5,
        "there is no release never-published 1.0",
    )


def test_ci_wait_says_each_job_as_it_ends(ciproj: Project, live: str, tmp_path) -> None:
    with connect(ciproj, "admin") as admin:
        index = handled_index(admin, ciproj, "waitlines", ["webhook"])
    wheel = make_wheel(tmp_path, "waitline-pkg", "1.0")

    def upload() -> None:  # once the wait has begun: its job ends while it waits
        time.sleep(0.5)
        with connect(ciproj, "owner") as owner:
            owner.upload(index, wheel)

    uploader = threading.Thread(target=upload)
    uploader.start()
    done = run(["ci", "wait", "--timeout", "120"], project=ciproj.root)
    uploader.join()
    assert done.exit_code == 0, done.output
    lines = [ln for ln in done.stdout.splitlines() if "waitline-pkg" in ln]
    assert lines and lines[0].startswith("job ")
    assert f"webhook {index} waitline-pkg 1.0: passed" in lines[0]
