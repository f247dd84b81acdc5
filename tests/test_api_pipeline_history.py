"""Browsing a pipeline's history through ``client.pipelines`` (local and over HTTP): workspace
pipelines tracked with ``pipl pipe track``, each segment's code per key, two keys compared,
deleting with dependents, bulk tag and delete, the date filter, exposed values apart from
saved ones, and the git revision of the code recorded with each run."""

from __future__ import annotations

import datetime
import json
import os
import pickle
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipl import Client
from pipl.errors import AuthError, NotFound, PipelineBusy, UsageError
from pipl.fsutil import locked
from pipl.pipe import Pipeline, run
from pipl.project.project import Project
from tests.helpers import fails
from tests.helpers import run as cli
from tests.pipe_helpers import demo_pipeline, project_demo, scripts

VISITOR = ("pipe-visitor", "visitor-pw-2")
CODE = {
    "make": (
        "#depend table.csv\nhook('prepare')\nn = params['n']\nseg_output = [get_input() * n]\n"
    ),
    "make_prepare": "logger.info('preparing')\n",
    "show": (
        "value = get_input('make')\n"
        "open(get_data_fn('value.txt'), 'w').write(f'{value}\\n')\n"
        "doubled = value * 2\n"
        "note = 'kept'\n"
        "save_param(['note'])\n"
        "expose(['doubled'])\n"
    ),
}


def git(folder: Path, *args: str) -> str:
    """Run git in ``folder`` (an author given, as the test's HOME has no git config)."""
    argv = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(folder)]
    done = subprocess.run([*argv, *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def history_pipeline(code: Path, prefix: Path, n: int) -> Pipeline:
    """``make -> show``: make's key takes its script, hook, #depend file and ``n``."""
    p = Pipeline(
        "make -> show;",
        code,
        prefix,
        segments={"make": {"params": {"n": n}}},
        name="history",
    )
    p.push(make=[1, 2, 3])
    return p


@pytest.fixture(scope="module")
def history(project: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A CI-kept pipeline whose code is a git checkout, run with n=10 then n=100 (two keys
    of ``make``), the second time with the hook edited and not committed."""
    name = "history"
    tmp = tmp_path_factory.mktemp("history")
    code = scripts(tmp / "code", **CODE)
    (code / "table.csv").write_text("a,b\n1,2\n")
    git(code, "init", "-q")
    git(code, "add", ".")
    git(code, "commit", "-q", "-m", "first")
    prefix = project.state_dir / "pipe-data" / name
    assert run(history_pipeline(code, prefix, 10), executor="interactive").ok
    (code / "make_prepare.py").write_text("logger.info('preparing again')\n")
    assert run(history_pipeline(code, prefix, 100), executor="interactive").ok
    yield name
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture
def scratch(project: Project, tmp_path: Path) -> Iterator[str]:
    name = f"scratch-{uuid.uuid4().hex[:8]}"
    prefix = project_demo(project.state_dir, tmp_path, name)
    yield name
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture
def local(project: Project) -> Iterator[Client]:
    with Client.from_project(project.root) as client:
        yield client


@pytest.fixture
def owner_remote(web: str, project: Project) -> Iterator[Client]:
    with Client(web) as client:
        client.login(project.owner, project.secrets.password(project.owner) or "")
        yield client


@pytest.fixture(params=["local", "remote"])
def client(request: pytest.FixtureRequest) -> Client:
    return request.getfixturevalue("local" if request.param == "local" else "owner_remote")


@pytest.fixture(scope="module")
def visitor(project: Project) -> tuple[str, str]:
    from pipl.index.session import connect

    with connect(project, "admin") as admin:
        if VISITOR[0] not in admin.users():
            admin.create_user(*VISITOR)
    return VISITOR


# --- tracked workspace pipelines -----------------------------------------------------------


def test_a_tracked_workspace_pipeline_shows_beside_ci_ones(
    project: Project, tmp_path: Path, local: Client, web: str
) -> None:
    p = demo_pipeline(tmp_path / "code", tmp_path / "workspace-data", "ws-demo")
    run(p, executor="interactive")
    with pytest.raises(NotFound):
        local.pipelines.status("ws-demo")
    done = cli(
        ["pipe", "track", "--prefix", str(p.prefix), "--name", "ws-demo"], project=project.root
    )
    assert done.exit_code == 0 and "tracking ws-demo" in done.stdout
    try:
        listed = {s.name: s for s in local.pipelines.list()}
        assert listed["ws-demo"].source == "workspace"
        assert listed["ws-demo"].counts == {"done": 7, "failed": 1}
        with Client(web) as anonymous:  # as CI's pipelines: whoever may read the project
            assert anonymous.pipelines.status("ws-demo").source == "workspace"
            assert anonymous.pipelines.instances("ws-demo", segment="square").total == 3
        # tracking again is a no-op; the server never runs a workspace's code
        again = cli(
            ["pipe", "track", "--prefix", str(p.prefix), "--name", "ws-demo"], project=project.root
        )
        assert again.exit_code == 0
        with pytest.raises(UsageError, match="run it there again"):
            local.pipelines.run("ws-demo")
    finally:
        gone = cli(["pipe", "untrack", "ws-demo"], project=project.root)
    assert gone.exit_code == 0 and "its data stays" in gone.stdout
    assert "ws-demo" not in {s.name for s in local.pipelines.list()}
    assert (p.prefix / "pipe.sqlite").is_file()
    with pytest.raises(NotFound, match="no pipeline 'ws-demo'"):
        local.pipelines.status("ws-demo")


def test_tracking_checks_names_and_paths(project: Project, tmp_path: Path, scratch: str) -> None:
    p = demo_pipeline(tmp_path / "code", tmp_path / "data", "checked")
    empty = tmp_path / "empty"
    empty.mkdir()
    root = project.root
    fails(
        cli(["pipe", "track", "--prefix", str(empty), "--name", "x"], project=root),
        2,
        "run the pipeline once",
    )
    fails(
        cli(["pipe", "track", "--prefix", str(tmp_path / "nope"), "--name", "x"], project=root),
        2,
        "is not a folder",
    )
    run(p, executor="interactive")
    fails(
        cli(["pipe", "track", "--prefix", str(p.prefix), "--name", "../up"], project=root),
        2,
        "invalid pipeline name",
    )
    fails(
        cli(["pipe", "track", "--prefix", str(p.prefix), "--name", scratch], project=root),
        2,
        "is a CI pipeline",
    )
    other = tmp_path / "other"
    shutil.copytree(p.prefix, other)
    assert (
        cli(["pipe", "track", "--prefix", str(p.prefix), "--name", "taken"], project=root).exit_code
        == 0
    )
    try:
        fails(
            cli(["pipe", "track", "--prefix", str(other), "--name", "taken"], project=root),
            2,
            "already tracks",
        )
    finally:
        cli(["pipe", "untrack", "taken"], project=root)
    fails(cli(["pipe", "untrack", "taken"], project=root), 5, "no tracked pipeline 'taken'")
    # a prefix whose data is gone later is left out of the list, not an error
    assert (
        cli(["pipe", "track", "--prefix", str(other), "--name", "moved"], project=root).exit_code
        == 0
    )
    shutil.rmtree(other)
    with Client.from_project(root) as local:
        assert "moved" not in {s.name for s in local.pipelines.list()}
    cli(["pipe", "untrack", "moved"], project=root)


def _track_one(args: tuple[Path, str, Path]) -> None:
    from pipl.pipe.track import track

    track(*args)


def test_concurrent_tracking_loses_no_entry(project: Project, tmp_path: Path) -> None:
    # 48 'pipl pipe track' at once from 8 processes: the list's lock keeps every one
    # (without it, most are lost: each process writes back the list it read)
    import multiprocessing

    from pipl.pipe.track import read_tracked, untrack

    p = demo_pipeline(tmp_path / "code", tmp_path / "data", "many")
    run(p, executor="interactive")
    names = [f"many-{i}" for i in range(48)]
    try:
        with multiprocessing.get_context("spawn").Pool(8) as pool:
            pool.map(_track_one, [(project.state_dir, n, p.prefix) for n in names])
        assert set(names) <= set(read_tracked(project.state_dir))
    finally:
        for name in set(names) & set(read_tracked(project.state_dir)):
            untrack(project.state_dir, name)


# --- the code page and comparisons -----------------------------------------------------------


def test_the_code_of_each_key_with_hooks_depend_files_and_parameters(
    client: Client, history: str
) -> None:
    keys = client.pipelines.keys(history, "make")
    assert len(keys) == 2 and keys[0].current and not keys[1].current
    assert keys[0].counts == keys[1].counts == {"done": 3, "failed": 0}
    now = client.pipelines.code(history, "make")
    old = client.pipelines.code(history, "make", key=keys[1].key)
    assert now.key == keys[0].key and old.key == keys[1].key
    assert now.params == {"n": "100"} and old.params == {"n": "10"}
    roles = {f.role: f for f in now.files}
    assert set(roles) == {"script", "hook prepare", "depend"}
    assert "hook('prepare')" in (roles["script"].text or "")
    assert roles["hook prepare"].text == "logger.info('preparing again')\n"
    assert roles["depend"].name == "table.csv" and roles["depend"].text == "a,b\n1,2\n"
    assert {f.role: f.text for f in old.files}["hook prepare"] == "logger.info('preparing')\n"
    show = client.pipelines.code(history, "show")
    assert show.parents == {"make": now.key}
    with pytest.raises(UsageError, match="invalid segment key"):
        client.pipelines.code(history, "make", key="../x")


def test_two_keys_compared_part_by_part_and_instance_by_instance(
    client: Client, history: str
) -> None:
    found = client.pipelines.compare(history, "show")  # the key before, beside the current
    assert found.a.key != found.b.key and found.b.key == client.pipelines.code(history, "show").key
    parts = {d.part: d for d in found.differences}
    assert set(parts) == {"parent make"}  # show's own code did not change: its parent did
    assert found.counts_a == found.counts_b == {"done": 3, "failed": 0}
    assert found.total == 3
    by_input = {p.a.input: p for p in found.instances if p.a}
    assert set(by_input) == {'{"make": 10}', '{"make": 20}', '{"make": 30}'}
    # paired by the instance of make that fed them, whose value changed
    pair = next(p for p in found.instances if p.a and p.a.input == '{"make": 20}')
    assert pair.b is not None and pair.a.exposed == {"doubled": "40"}
    assert pair.b.exposed == {"doubled": "400"} and pair.b.input == '{"make": 200}'
    assert any(f.startswith("value.txt") for f in pair.b.files)
    made = client.pipelines.compare(history, "make")
    parts = {d.part: d for d in made.differences}
    assert set(parts) == {"param n", "hook prepare make_prepare.py"}
    assert (parts["param n"].a, parts["param n"].b) == ("10", "100")
    assert "-logger.info('preparing')" in parts["hook prepare make_prepare.py"].diff
    assert "+logger.info('preparing again')" in parts["hook prepare make_prepare.py"].diff
    one = client.pipelines.compare(history, "make", limit=1, offset=2)
    assert one.total == 3 and len(one.instances) == 1


def test_the_git_revision_of_the_code_is_recorded_with_each_run(
    client: Client, history: str, project: Project
) -> None:
    runs = client.pipelines.status(history).runs
    first, second = runs[1].revision, runs[0].revision
    assert len(first) == 40 and all(c in "0123456789abcdef" for c in first)
    assert second == first + "+modified"  # the hook was edited after the commit
    assert client.pipelines.code(
        history, "make", key=client.pipelines.keys(history, "make")[1].key
    ).revisions == [first]
    name = client.pipelines.instances(history, segment="make").instances[0].name
    assert client.pipelines.instance(history, "make", name).revision == second


def test_no_revision_outside_a_git_checkout(tmp_path: Path) -> None:
    from pipl.pipe.revision import code_revision

    assert code_revision(tmp_path) == ""
    assert code_revision(None) == ""
    git(tmp_path, "init", "-q")
    assert code_revision(tmp_path) == ""  # a checkout with no commit yet
    (tmp_path / "a.py").write_text("x = 1\n")
    git(tmp_path, "add", "a.py")
    git(tmp_path, "commit", "-q", "-m", "a")
    assert code_revision(tmp_path) == git(tmp_path, "rev-parse", "HEAD")


# --- exposed values, dates ------------------------------------------------------------------


def test_exposed_values_are_shown_apart_from_saved_ones(client: Client, history: str) -> None:
    name = client.pipelines.instances(history, segment="show").instances[0].name
    detail = client.pipelines.instance(history, "show", name)
    assert detail.saved == {"note": "'kept'"}
    assert set(detail.exposed) == {"doubled"}


def test_a_pickle_in_an_instance_folder_is_never_loaded(
    local: Client, scratch: str, project: Project, tmp_path: Path
) -> None:
    # segment code writes its instance folders: what it leaves there must not run code
    # in the process that shows it
    square = local.pipelines.instances(scratch, segment="square", status="done").instances[0]
    folder = next(
        (project.state_dir / "pipe-data" / scratch).glob(f"*/square_*/data/{square.name}")
    )
    witness = tmp_path / "ran"

    class Trap:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.mkdir, (str(witness),))

    (folder / ".params.pkl").write_bytes(pickle.dumps({"values": {"x": Trap()}, "exposed": []}))
    (folder / ".params.json").unlink()
    detail = local.pipelines.instance(scratch, "square", square.name)
    assert detail.saved == {} and detail.exposed == {}
    assert not witness.exists()
    (folder / ".params.json").write_text(json.dumps({"values": {"x": "1"}, "exposed": ["x"]}))
    assert local.pipelines.instance(scratch, "square", square.name).exposed == {"x": "1"}


def test_instances_filtered_by_start_date(client: Client, history: str) -> None:
    every = client.pipelines.instances(history, segment="show")
    assert every.total == 3
    started = min(i.started or 0 for i in every.instances)
    assert client.pipelines.instances(history, segment="show", since=started).total == 3
    assert client.pipelines.instances(history, segment="show", since=time.time() + 60).total == 0
    assert client.pipelines.instances(history, segment="show", until=started).total == 0
    today = datetime.datetime.fromtimestamp(started, tz=datetime.UTC).date()
    tomorrow = today + datetime.timedelta(days=1)
    assert (
        client.pipelines.instances(history, segment="show", since=today, until=tomorrow).total == 3
    )
    assert client.pipelines.instances(history, segment="show", until=today).total == 0


# --- deleting with dependents, bulk tag and delete -----------------------------------------


def _by_input(client: Client, pipeline: str, segment: str, text: str) -> str:
    found = client.pipelines.instances(pipeline, segment=segment).instances
    return next(i.name for i in found if text in i.input)


def test_delete_an_instance_with_its_dependents(
    client: Client, scratch: str, project: Project
) -> None:
    source = _by_input(client, scratch, "source", "2")
    below = client.pipelines.dependents(scratch, "source", source)
    assert [(i.segment, '"source": 2' in i.input or '"square": 4' in i.input) for i in below] == [
        ("square", True),
        ("label", True),
    ]
    assert client.pipelines.instance(scratch, "source", source).dependents == 2
    # a rebuild of the database from the folders keeps who used what
    from pipl.pipe.db import rebuild

    rebuild(project.state_dir / "pipe-data" / scratch)
    assert len(client.pipelines.dependents(scratch, "source", source)) == 2
    client.pipelines.delete(scratch, "source", source, dependents=True)
    counts = {s.name: s.counts for s in client.pipelines.status(scratch).segments}
    assert counts == {
        "source": {"done": 2, "failed": 0},
        "square": {"done": 1, "failed": 1},
        "label": {"done": 1, "failed": 0},
    }
    prefix = project.state_dir / "pipe-data" / scratch
    for item in below:
        assert not list(prefix.glob(f"**/{item.segment}_{item.key}/data/{item.name}"))
    # without dependents, only the instance goes
    other = _by_input(client, scratch, "source", "1")
    client.pipelines.delete(scratch, "source", other)
    assert client.pipelines.status(scratch).segments[2].counts == {"done": 1, "failed": 0}


def test_bulk_tag_and_delete(client: Client, scratch: str) -> None:
    sources = [
        f"source/{i.name}" for i in client.pipelines.instances(scratch, segment="source").instances
    ]
    tagged = client.pipelines.tag_selected(scratch, sources[:2], "batch 1")
    assert [i.tags for i in tagged] == [["batch 1"], ["batch 1"]]
    assert client.pipelines.instances(scratch, tag="batch 1").total == 2
    client.pipelines.tag_selected(scratch, sources[:1], "batch 1", remove=True)
    assert client.pipelines.instances(scratch, tag="batch 1").total == 1
    with pytest.raises(NotFound, match="no instance 'ghost'"):  # all checked before any change
        client.pipelines.tag_selected(scratch, [sources[2], "source/ghost"], "x")
    assert client.pipelines.instances(scratch, tag="x").total == 0
    with pytest.raises(UsageError, match="SEGMENT/INSTANCE"):
        client.pipelines.delete_selected(scratch, ["nothing"])
    with pytest.raises(UsageError, match="invalid instance name"):
        client.pipelines.delete_selected(scratch, ["source/.."])
    gone = client.pipelines.delete_selected(scratch, sources[:2], dependents=True)
    assert sorted(i.segment for i in gone) == [
        "label",
        "label",
        "source",
        "source",
        "square",
        "square",
    ]
    assert client.pipelines.instances(scratch).total == 2  # source 3 and its failed square


def test_bulk_changes_are_for_the_owner_and_wait_for_runs(
    project: Project, scratch: str, web: str, visitor: tuple[str, str], local: Client
) -> None:
    one = [f"source/{local.pipelines.instances(scratch, segment='source').instances[0].name}"]
    with Client(web) as anonymous:
        with pytest.raises(AuthError, match="needs a logged-in user"):
            anonymous.pipelines.delete_selected(scratch, one)
        with pytest.raises(AuthError, match="needs a logged-in user"):
            anonymous.pipelines.tag_selected(scratch, one, "mine")
        assert anonymous.pipelines.code(scratch, "square").files  # reading is open
    with Client(web) as other:
        other.login(*visitor)
        with pytest.raises(AuthError, match="is for the owner"):
            other.pipelines.delete_selected(scratch, one, dependents=True)
        with pytest.raises(AuthError, match="is for the owner"):
            other.pipelines.tag_selected(scratch, one, "mine")
    answer = httpx.post(f"{web}/api/v1/pipelines/{scratch}/delete", json={"instances": one})
    assert answer.status_code == 401
    with locked(project.state_dir / "pipe-data" / scratch / "run"), pytest.raises(PipelineBusy):
        local.pipelines.delete_selected(scratch, one, dependents=True)
    assert local.pipelines.instances(scratch).total == 8


def test_track_a_pipeline_packl_by_its_folder(project: Project, tmp_path: Path) -> None:
    from tests.pipe_helpers import copy_example

    folder = copy_example("knights", tmp_path)
    prefix = tmp_path / "knights-data"
    args = ["-P", str(folder), "--prefix", str(prefix)]
    assert cli(["pipe", "run", *args, "-q"]).exit_code == 0
    done = cli(["pipe", "track", *args], project=project.root)
    assert done.exit_code == 0, done.output
    name = done.stdout.split()[1].rstrip(":")
    try:
        assert str(prefix.resolve()) in done.stdout
        with Client.from_project(project.root) as local:
            status = local.pipelines.status(name)
            assert status.source == "workspace" and {s.name for s in status.segments} >= {
                "knights",
                "melt",
            }
    finally:
        assert cli(["pipe", "untrack", name], project=project.root).exit_code == 0
