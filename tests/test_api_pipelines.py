"""client.pipelines, local and remote, against a pipeline run for real under the session
project's ``.pipl/pipe-data/``: list, graph, counts, instances, logs and files, tags,
deletion, running again, and the refusals (access, names, paths outside an instance)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipl import Client
from pipl.errors import AuthError, NotFound, PipelineBusy, UsageError
from pipl.fsutil import locked
from pipl.pipe.db import open_db
from pipl.project.project import Project
from tests.pipe_helpers import project_demo

VISITOR = ("pipe-visitor", "visitor-pw-2")


def data_dir(project: Project, name: str) -> Path:
    return project.state_dir / "pipe-data" / name


def make_demo(project: Project, tmp: Path, name: str) -> Path:
    return project_demo(project.state_dir, tmp, name)


@pytest.fixture(scope="module")
def demo(project: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    import shutil

    prefix = make_demo(project, tmp_path_factory.mktemp("demo"), "demo-pipe")
    yield prefix
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture
def scratch(project: Project, tmp_path: Path) -> Iterator[str]:
    """A demo pipeline of this test's own (deleting in it disturbs no other test)."""
    import shutil
    import uuid

    name = f"scratch-{uuid.uuid4().hex[:8]}"
    prefix = make_demo(project, tmp_path, name)
    yield name
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(scope="module")
def visitor(project: Project) -> tuple[str, str]:
    from pipl.index.session import connect

    with connect(project, "admin") as admin:
        if VISITOR[0] not in admin.users():
            admin.create_user(*VISITOR)
    return VISITOR


@pytest.fixture
def local(project: Project) -> Iterator[Client]:
    with Client.from_project(project.root) as client:
        yield client


@pytest.fixture
def anonymous(web: str) -> Iterator[Client]:
    with Client(web) as client:
        yield client


@pytest.fixture
def owner_remote(web: str, project: Project) -> Iterator[Client]:
    with Client(web) as client:
        client.login(project.owner, project.secrets.password(project.owner) or "")
        yield client


@pytest.fixture(params=["local", "remote"])
def client(request: pytest.FixtureRequest, demo: Path) -> Client:
    """The owner's client, on this machine and over HTTP."""
    return request.getfixturevalue("local" if request.param == "local" else "owner_remote")


def test_list_shows_the_pipeline_with_counts(client: Client) -> None:
    found = {p.name: p for p in client.pipelines.list()}
    demo = found["demo-pipe"]
    assert demo.segments == 3
    # 3 sources, 2 squares done and 1 failed, 2 labels
    assert demo.counts == {"done": 7, "failed": 1}
    assert demo.last_run is not None and demo.last_run.status == "failed"


def test_graph_and_status_count_instances_per_segment(client: Client) -> None:
    graph = client.pipelines.graph("demo-pipe", svg=True)
    assert [s.name for s in graph.segments] == ["source", "square", "label"]
    assert graph.edges == [["source", "square"], ["square", "label"]]
    counts = {s.name: s.counts for s in graph.segments}
    assert counts == {
        "source": {"done": 3, "failed": 0},
        "square": {"done": 2, "failed": 1},
        "label": {"done": 2, "failed": 0},
    }
    assert graph.svg is not None and graph.svg.startswith("<svg")
    assert "2 done · 1 failed" in graph.svg
    status = client.pipelines.status("demo-pipe")
    assert {s.name: s.counts for s in status.segments} == counts
    assert status.runs[0].failed == 1 and status.runs[0].ran == 7


def test_instances_page_and_filter(client: Client) -> None:
    page = client.pipelines.instances("demo-pipe")
    assert page.total == 8 and len(page.instances) == 8
    assert [i.segment for i in page.instances][:3] == ["source"] * 3
    first = client.pipelines.instances("demo-pipe", offset=0, limit=3)
    second = client.pipelines.instances("demo-pipe", offset=3, limit=3)
    last = client.pipelines.instances("demo-pipe", offset=6, limit=3)
    names = [(i.segment, i.name) for p in (first, second, last) for i in p.instances]
    assert names == [(i.segment, i.name) for i in page.instances]
    assert len(last.instances) == 2 and last.total == 8
    failed = client.pipelines.instances("demo-pipe", status="failed")
    assert failed.total == 1
    bad = failed.instances[0]
    assert bad.segment == "square" and bad.error == "ValueError: three is not welcome"
    assert '"source": 3' in bad.input
    squares = client.pipelines.instances("demo-pipe", segment="square", status="done")
    assert squares.total == 2 and all(i.status == "done" for i in squares.instances)
    assert all(i.seconds is not None and i.started for i in squares.instances)


def test_one_instance_with_log_parameters_and_files(client: Client) -> None:
    square = client.pipelines.instances("demo-pipe", segment="square", status="done")
    name = next(i.name for i in square.instances if '"source": 2' in i.input)
    detail = client.pipelines.instance("demo-pipe", "square", name)
    assert detail.instance.status == "done"
    assert "squaring 2" in detail.log and not detail.log_cut
    assert detail.saved == {} and detail.exposed == {"threshold": "20"}
    files = {f.name: f.size for f in detail.files}
    assert {"plot.png", "square.txt", "instance.log"} <= set(files)
    assert client.pipelines.download("demo-pipe", "square", name, "square.txt") == b"4\n"
    png = client.pipelines.download("demo-pipe", "square", name, "plot.png")
    assert png.startswith(b"\x89PNG") and len(png) == files["plot.png"]
    label = client.pipelines.instances("demo-pipe", segment="label").instances[0]
    assert client.pipelines.instance("demo-pipe", "label", label.name).params == {"prefix": '"n="'}
    failed = client.pipelines.instances("demo-pipe", status="failed").instances[0]
    log = client.pipelines.instance("demo-pipe", "square", failed.name).log
    assert "Traceback" in log and "three is not welcome" in log


def test_tags_are_kept_and_filter_the_list(client: Client, demo: Path) -> None:
    name = client.pipelines.instances("demo-pipe", segment="label").instances[0].name
    assert client.pipelines.tag("demo-pipe", "label", name, "keeper") == ["keeper"]
    assert client.pipelines.tag("demo-pipe", "label", name, "best 2") == ["best 2", "keeper"]
    tagged = client.pipelines.instances("demo-pipe", tag="keeper")
    assert [(i.segment, i.name, i.tags) for i in tagged.instances] == [
        ("label", name, ["best 2", "keeper"])
    ]
    assert client.pipelines.untag("demo-pipe", "label", name, "best 2") == ["keeper"]
    # tags live in the tracking database, and a rebuild from the folders keeps them
    from pipl.pipe.db import rebuild

    rebuild(demo)
    assert client.pipelines.instances("demo-pipe", tag="keeper").total == 1
    assert client.pipelines.untag("demo-pipe", "label", name, "keeper") == []
    with pytest.raises(UsageError, match="invalid tag"):
        client.pipelines.tag("demo-pipe", "label", name, "../x")


def test_delete_removes_the_data_and_the_next_run_computes_it_again(
    project: Project, scratch: str, local: Client
) -> None:
    square = local.pipelines.instances(scratch, segment="square", status="done").instances[0]
    local.pipelines.tag(scratch, "square", square.name, "doomed")
    gone = local.pipelines.delete(scratch, "square", square.name)
    assert gone.name == square.name
    prefix = data_dir(project, scratch)
    assert not list(prefix.glob(f"*/square_*/data/{square.name}"))
    counts = {s.name: s.counts for s in local.pipelines.status(scratch).segments}
    assert counts["square"] == {"done": 1, "failed": 1}
    with pytest.raises(NotFound, match="no instance"):
        local.pipelines.instance(scratch, "square", square.name)
    assert local.pipelines.instances(scratch, tag="doomed").total == 0
    # neither the journal nor a rebuild brings it back; a run computes it again
    from pipl.pipe.db import rebuild

    rebuild(prefix)
    assert local.pipelines.status(scratch).segments[1].counts == {"done": 1, "failed": 1}
    started = local.pipelines.run(scratch)
    assert started.status == "queued"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = {r.id: r for r in local.pipelines.status(scratch).runs}
        if runs[started.id].status not in ("queued", "running"):
            break
        time.sleep(0.2)
    done = {r.id: r for r in local.pipelines.status(scratch).runs}[started.id]
    log = (prefix / "runs" / f"{started.id}.log").read_text()
    assert done.status == "failed" and done.ran == 1 and done.failed == 1, log
    assert local.pipelines.status(scratch).segments[1].counts == {"done": 2, "failed": 1}
    assert list(prefix.glob(f"*/square_*/data/{square.name}/square.txt"))


def test_a_run_is_refused_while_another_uses_the_data(
    project: Project, scratch: str, local: Client
) -> None:
    with locked(data_dir(project, scratch) / "run"):
        with pytest.raises(PipelineBusy, match="wait for it to finish"):
            local.pipelines.run(scratch)
        name = local.pipelines.instances(scratch, segment="label").instances[0].name
        with pytest.raises(PipelineBusy):
            local.pipelines.delete(scratch, "label", name)
    assert local.pipelines.instance(scratch, "label", name).instance.status == "done"


def test_changes_are_for_the_owner(
    scratch: str, anonymous: Client, web: str, visitor: tuple[str, str]
) -> None:
    # anyone who may read the project's index may look ...
    square = anonymous.pipelines.instances(scratch, segment="square").instances[0]
    assert anonymous.pipelines.instance(scratch, "square", square.name).files
    # ... but anonymous visitors and other users may not change anything
    with pytest.raises(AuthError, match="needs a logged-in user"):
        anonymous.pipelines.delete(scratch, "square", square.name)
    with pytest.raises(AuthError):
        anonymous.pipelines.tag(scratch, "square", square.name, "mine")
    with pytest.raises(AuthError):
        anonymous.pipelines.run(scratch)
    with Client(web) as other:
        other.login(*visitor)
        with pytest.raises(AuthError, match="is for the owner"):
            other.pipelines.delete(scratch, "square", square.name)
        with pytest.raises(AuthError, match="is for the owner"):
            other.pipelines.tag(scratch, "square", square.name, "mine")
    detail = anonymous.pipelines.instance(scratch, "square", square.name)
    assert detail.instance.tags == [] and detail.files
    answer = httpx.post(
        f"{web}/api/v1/pipelines/{scratch}/instances/square/{square.name}/delete", json={}
    )
    assert answer.status_code == 401


def test_names_are_checked(local: Client, demo: Path) -> None:
    with pytest.raises(UsageError, match="invalid pipeline name"):
        local.pipelines.graph("../etc")
    with pytest.raises(NotFound, match="no pipeline 'nope'"):
        local.pipelines.status("nope")
    with pytest.raises(UsageError, match="invalid segment name"):
        local.pipelines.instances("demo-pipe", segment="a/../b")
    with pytest.raises(NotFound, match="no segment 'ghost'"):
        local.pipelines.instances("demo-pipe", segment="ghost")
    with pytest.raises(UsageError, match="invalid instance name"):
        local.pipelines.instance("demo-pipe", "square", "..")
    with pytest.raises(UsageError, match="unknown instance status"):
        local.pipelines.instances("demo-pipe", status="weird")
    with pytest.raises(UsageError, match="invalid segment key"):
        local.pipelines.instance("demo-pipe", "square", "x", key="../../x")


def test_files_outside_the_instance_are_never_served(
    local: Client, demo: Path, web: str, tmp_path: Path
) -> None:
    square = local.pipelines.instances("demo-pipe", segment="square", status="done")
    name = square.instances[0].name
    folder = next(demo.glob(f"*/square_*/data/{name}"))
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web\n")
    (folder / "escape.txt").symlink_to(secret)
    (folder / "up").symlink_to(folder.parent.parent)  # a folder link: the segment's
    try:
        for bad in ("../../params.json", "/etc/passwd", "up/params.json", "a/../../x"):
            with pytest.raises((UsageError, NotFound)):
                local.pipelines.download("demo-pipe", "square", name, bad)
        with pytest.raises(NotFound, match="no data file 'escape.txt'"):
            local.pipelines.download("demo-pipe", "square", name, "escape.txt")
        listed = {f.name for f in local.pipelines.instance("demo-pipe", "square", name).files}
        assert "escape.txt" not in listed and not any(n.startswith("up/") for n in listed)
        base = f"{web}/api/v1/pipelines/demo-pipe/instances/square/{name}/files"
        for raw in (
            "%2e%2e/%2e%2e/params.json",
            "..%2f..%2fparams.json",
            "%2fetc%2fpasswd",
            "escape.txt",
            "up/params.json",
        ):
            answer = httpx.get(f"{base}/{raw}")
            assert answer.status_code in (400, 404), raw
            assert "not for the web" not in answer.text and '"name"' not in answer.text
        page = f"{web}/pipelines/demo-pipe/instances/square/{name}/files"
        for raw in ("%2e%2e/%2e%2e/params.json", "escape.txt", "up/segment.json"):
            answer = httpx.get(f"{page}/{raw}")
            assert answer.status_code in (400, 404), raw
            assert "not for the web" not in answer.text
        assert httpx.get(f"{page}/square.txt").text in ("1\n", "4\n")
        # an instance folder that is itself a link out of its segment serves nothing
        aside = folder.with_name("aside")
        folder.rename(aside)
        folder.symlink_to(tmp_path)
        try:
            with pytest.raises(NotFound, match="is not stored in its segment"):
                local.pipelines.download("demo-pipe", "square", name, "secret.txt")
            assert httpx.get(f"{page}/secret.txt").status_code == 404
        finally:
            folder.unlink()
            aside.rename(folder)
    finally:
        (folder / "escape.txt").unlink()
        (folder / "up").unlink()


def test_the_database_keeps_inputs_and_tags_across_versions(tmp_path: Path) -> None:
    # a tracking database of an older pipl (no input column, no tags table) is upgraded
    import sqlite3

    prefix = tmp_path / "old"
    prefix.mkdir()
    conn = sqlite3.connect(prefix / "pipe.sqlite")
    conn.executescript(
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, started REAL, finished REAL, executor TEXT,"
        " status TEXT, ran INTEGER DEFAULT 0, reused INTEGER DEFAULT 0, failed INTEGER"
        " DEFAULT 0);"
        "CREATE TABLE instances (key TEXT, name TEXT, ok INTEGER, output BLOB, started REAL,"
        " seconds REAL, run_id INTEGER, error TEXT, PRIMARY KEY (key, name)) WITHOUT ROWID;"
        "INSERT INTO instances VALUES ('k', 'a', 1, NULL, 1.0, 0.5, 1, '');"
    )
    conn.commit()
    conn.close()
    with open_db(prefix) as db:
        db.tag("k", "a", "old")
        assert db.tags("k", ["a"]) == {"a": ["old"]}
        row = db.conn.execute("SELECT input FROM instances WHERE name='a'").fetchone()
        assert row == ("",)


def test_the_cli_and_the_api_agree_on_a_pipeline_packl(
    project: Project, local: Client, tmp_path: Path
) -> None:
    # 'pipl pipe run/status' of a pipeline packl whose data is in the project's pipe-data:
    # the CLI and the API count with the same library calls
    import json
    import shutil

    from tests.helpers import run as cli
    from tests.pipe_helpers import copy_example

    folder = copy_example("knights", tmp_path)
    prefix = data_dir(project, "knights-cli")
    args = ["-P", str(folder), "--prefix", str(prefix)]
    try:
        assert cli(["pipe", "run", *args, "-q"]).exit_code == 0
        shown = json.loads(cli(["pipe", "status", *args, "--json"]).stdout)["data"]
        by_cli = {s["segment"]: (s["key"], s["done"], s["failed"]) for s in shown["segments"]}
        status = local.pipelines.status("knights-cli")
        by_api = {s.name: (s.key, s.counts["done"], s.counts["failed"]) for s in status.segments}
        assert by_api == by_cli and by_cli["melt"][1] == 4
        assert status.runs[0].id == shown["runs"][0]["id"]
        graph = local.pipelines.graph("knights-cli")
        assert ["knights", "melt"] in graph.edges and len(graph.segments) == len(by_cli)
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def test_a_running_run_shows_its_progress(tmp_path: Path) -> None:
    # what 'status' shows of a run while it runs: its instances counted batch by batch
    from pipl.pipe import run
    from tests.pipe_helpers import demo_pipeline

    p = demo_pipeline(tmp_path / "code", tmp_path / "data", "progress")
    seen: list[tuple[str, int, int]] = []

    def watch(segment: str, done: int, total: int) -> None:
        with open_db(p.prefix) as db:
            last = db.runs(1)[0]
        seen.append((last["status"], last["ran"], last["failed"]))

    run(p, executor="interactive", progress=watch)
    assert seen[-1][0] == "running" and seen[-1][1] + seen[-1][2] == 8
    assert sorted(seen, key=lambda s: s[1] + s[2]) == seen  # counts only grow
    with open_db(p.prefix) as db:
        assert db.runs(1)[0]["status"] == "failed" and db.runs(1)[0]["ran"] == 7


def test_the_owner_cancels_a_running_run(
    project: Project, tmp_path: Path, local: Client, owner_remote: Client, anonymous: Client
) -> None:
    import os
    import shutil
    import uuid

    from tests.pipe_helpers import start_slow_run, wait_until

    name = f"slow-{uuid.uuid4().hex[:8]}"
    prefix = data_dir(project, name)
    proc, ledger, _ = start_slow_run(tmp_path, prefix, count=40, jobs=1, seconds=0.3)
    try:
        wait_until(lambda: len(os.listdir(ledger)) >= 2, 60, "the first instances")
        assert local.pipelines.status(name).runs[0].status == "running"
        with pytest.raises(AuthError, match="needs a logged-in user"):
            anonymous.pipelines.cancel(name)
        asked = owner_remote.pipelines.cancel(name)
        assert asked.status == "cancelling" and asked.id == 1
        wait_until(
            lambda: local.pipelines.status(name).runs[0].status == "cancelled", 30, "the stop"
        )
        out, err = proc.communicate(timeout=30)
        assert out.split()[0] == "cancelled", err
        ended = local.pipelines.status(name).runs[0]
        assert 2 <= ended.ran - 40 < 40 and ended.message == "stopped by a cancel request"
        with pytest.raises(NotFound, match="nothing to cancel"):
            local.pipelines.cancel(name)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(prefix, ignore_errors=True)
