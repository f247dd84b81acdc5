"""Checked promotion on a real server: requirements resolved against the target's chain
before anything moves, the missing closure pushed all or nothing, one stage at a time."""

import hashlib
import json
import os
import subprocess
import sys

import pytest

from pipl import Client
from pipl.errors import IndexServerError, NotFound, PromotionRefused
from pipl.index.client import IndexClient
from pipl.index.promote import plan_promotion, promote
from pipl.index.session import connect
from tests.helpers import fails, make_wheel, run


@pytest.fixture
def stages(project):
    return project.stage_index(), project.stage_index("qa"), project.stage_index("prod")


@pytest.fixture
def publish(project, owner, tmp_path):
    """Upload a small wheel NAME VERSION requiring REQUIRES to the first stage."""

    def upload(name, version, requires=(), index=None):
        wheel = make_wheel(tmp_path / f"{name}-{version}", name, version, requires=list(requires))
        owner.upload(index or project.stage_index(), wheel)

    return upload


def cli(project, *args):
    return run(["proj", "index", "push", *args], project=project.root)


def on(client, index, name):
    return sorted(client.versions(index, name, inherited=False))


def pip_install(project, index, name, target):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--target",
            str(target),
            "--index-url",
            project.simple_url(index),
            name,
        ],
        capture_output=True,
        text=True,
    )


def test_push_with_a_dependency_missing_on_the_target_is_refused(
    project, owner, stages, publish, tmp_path
):
    """The reproduction: a task whose lib is only on dev, pushed to qa."""
    dev, qa, _ = stages
    publish("shotlib-a", "0.1.0")
    publish("shot-a", "0.2.0", ["shotlib-a>=0.1", 'maya-tools-a; extra == "edit"'])
    fails(
        cli(project, "shot-a", "0.2.0", "--to", "qa"),
        5,
        f"shot-a 0.2.0 cannot go to {qa}",
        "shotlib-a>=0.1 (for shot-a 0.2.0)",
        "--with-deps",
    )
    assert on(owner, qa, "shot-a") == [] and on(owner, qa, "shotlib-a") == []
    # the editor-only requirement (extra "edit") is not needed on qa
    plan = plan_promotion(owner, project.name, "shot-a", "0.2.0", source=dev, target=qa)
    assert [str(m) for m in plan.missing] == ["shotlib-a>=0.1 (for shot-a 0.2.0)"]
    assert [(m.project, m.version) for m in plan.moves] == [
        ("shotlib-a", "0.1.0"),
        ("shot-a", "0.2.0"),
    ]

    result = cli(project, "shot-a", "0.2.0", "--to", "qa", "--with-deps")
    assert result.exit_code == 0, result.output
    assert on(owner, qa, "shot-a") == ["0.2.0"] and on(owner, qa, "shotlib-a") == ["0.1.0"]
    # qa installs it now, with its lib, with plain pip
    done = pip_install(project, qa, "shot-a", tmp_path / "site")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "shotlib_a" / "__init__.py").is_file()
    # pushing again moves nothing
    again = promote(owner, project.name, "shot-a", "0.2.0", source=dev, target=qa)
    assert again.pushed == [] and again.plan.release.files == {}


def test_a_release_reaches_a_stage_only_from_the_one_before(project, owner, stages, publish):
    dev, qa, prod = stages
    publish("jumpy", "1.0")
    fails(
        cli(project, "jumpy", "1.0", "--from", "dev", "--to", "prod"),
        5,
        f"{dev} promotes to {qa}, not {prod}",
        "--skip-stage",
    )
    assert on(owner, prod, "jumpy") == []
    # the default source is the stage just before the target: qa does not have it yet
    fails(cli(project, "jumpy", "1.0", "--to", "prod"), 5, f"no files of jumpy 1.0 on {qa}")
    assert cli(project, "jumpy", "1.0", "--to", "qa").exit_code == 0
    assert cli(project, "jumpy", "1.0", "--to", "prod").exit_code == 0
    assert on(owner, prod, "jumpy") == ["1.0"]

    publish("leaper", "1.0")
    result = cli(project, "leaper", "1.0", "--from", "dev", "--to", "prod", "--skip-stage")
    assert result.exit_code == 0, result.output
    assert on(owner, prod, "leaper") == ["1.0"] and on(owner, qa, "leaper") == []
    with pytest.raises(PromotionRefused, match="promotes to no index"):
        promote(owner, project.name, "leaper", "1.0", source=prod, target=dev)

    # the API and pipl.Client skip a stage only when asked to, as the CLI does
    publish("hopper", "1.0")
    with Client.from_project(project.root) as client:
        with pytest.raises(PromotionRefused, match=f"{dev} promotes to {qa}, not {prod}"):
            client.promote("hopper", "1.0", "prod", source="dev")
        client.promote("hopper", "1.0", "prod", source="dev", skip_stage=True)
    assert on(owner, prod, "hopper") == ["1.0"] and on(owner, qa, "hopper") == []


def test_with_deps_pushes_the_missing_closure_dependencies_first(project, owner, stages, publish):
    dev, qa, _ = stages
    publish("leaf-c", "1.0", index=qa)  # already on the target: not pushed again
    publish("mid-b", "1.0", ["leaf-c"])
    publish("mid-b", "2.0", ["leaf-c>=1"])
    publish("mid-b", "3.0rc1", ["leaf-c>=1"])  # a pre-release: not chosen for "<3"
    publish("side-d", "1.0")
    publish("top-a", "1.0", ["mid-b<3,>=1", "side-d", "leaf-c"])
    plan = plan_promotion(owner, project.name, "top-a", "1.0", source=dev, target=qa)
    assert [(m.project, m.version) for m in plan.moves] == [
        ("mid-b", "2.0"),
        ("side-d", "1.0"),
        ("top-a", "1.0"),
    ]
    assert {m.requirement: m.available for m in plan.missing} == {
        "mid-b<3,>=1": "2.0",
        "side-d": "1.0",
    }
    dry = cli(project, "top-a", "1.0", "--to", "qa", "--with-deps", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    data = json.loads(dry.output)
    assert data["kind"] == "promotion" and data["data"]["dry_run"] is True
    assert [m["project"] for m in data["data"]["moves"]] == ["mid-b", "side-d", "top-a"]
    assert data["data"]["moves"][0]["required_by"] == "top-a 1.0"
    assert data["data"]["pushed"] == [] and on(owner, qa, "top-a") == []  # nothing moved

    result = promote(owner, project.name, "top-a", "1.0", source=dev, target=qa, with_deps=True)
    assert [(p.project, p.version) for p in result.pushed] == [
        ("mid-b", "2.0"),
        ("side-d", "1.0"),
        ("top-a", "1.0"),
    ]
    assert on(owner, qa, "mid-b") == ["2.0"] and on(owner, qa, "leaf-c") == ["1.0"]


def test_a_requirement_found_nowhere_refuses_even_with_deps(project, owner, stages, publish):
    _, qa, _ = stages
    publish("needs-ghost", "1.0", ["ghost-pkg>=2", "present-e"])
    publish("present-e", "1.0")
    publish("ghost-pkg", "1.0")  # too old for >=2
    fails(
        cli(project, "needs-ghost", "1.0", "--to", "qa", "--with-deps"),
        5,
        "ghost-pkg>=2 (for needs-ghost 1.0)",
        "found neither",
    )
    assert on(owner, qa, "present-e") == [] and on(owner, qa, "needs-ghost") == []
    dry = cli(project, "needs-ghost", "1.0", "--to", "qa", "--dry-run")
    assert "missing on" in dry.output and "ghost-pkg>=2" in dry.output
    assert dry.exit_code == 5
    with pytest.raises(NotFound, match="no files of needs-ghost 9.0"):
        plan_promotion(
            owner, project.name, "needs-ghost", "9.0", source=project.stage_index(), target=qa
        )


class RacedClient(IndexClient):
    """A real client; before its second push, another publisher puts a file with the same
    name and other content on the target (a race the plan could not see)."""

    def __init__(self, url, token, racer):
        super().__init__(url, token=token)
        self.racer = racer
        self.pushes = 0

    def push(self, source, project, version, target, **kwargs):
        self.pushes += 1
        if self.pushes == 2:
            self.racer(target, project, version)
        return super().push(source, project, version, target, **kwargs)


def test_a_failed_push_undoes_the_pushes_made_before(project, owner, stages, publish, tmp_path):
    dev, qa, _ = stages
    publish("undo-dep", "1.0")
    publish("undo-top", "1.0", ["undo-dep"])
    racer_wheel = make_wheel(tmp_path / "racer", "undo-top", "1.0", body="RACER = 1\n")

    def racer(target, name, version):
        owner.upload(target, racer_wheel)

    with (
        RacedClient(project.url, owner.token, racer) as client,
        pytest.raises(IndexServerError) as caught,
    ):
        promote(client, project.name, "undo-top", "1.0", source=dev, target=qa, with_deps=True)
    message = str(caught.value)
    assert "failed while pushing undo-top 1.0" in message
    assert f"removed again from {qa}: undo-dep 1.0" in message
    # qa (non-volatile) no longer has the dependency this promotion pushed ...
    assert on(owner, qa, "undo-dep") == []
    # ... and keeps the other publisher's file untouched
    [link] = owner.links(qa, "undo-top", "1.0")
    assert link.sha256 == hashlib.sha256(racer_wheel.read_bytes()).hexdigest()


def test_cli_push_output(project, publish):
    publish("plain-f", "1.0")
    result = cli(project, "plain-f", "1.0", "--to", "qa")
    assert result.exit_code == 0, result.output
    dev, qa = project.stage_index(), project.stage_index("qa")
    assert f"pushed plain-f 1.0: {dev} -> {qa}" in result.output
    assert "plain_f-1.0-py3-none-any.whl" in result.output
    with connect(project, "anonymous") as client:
        assert "1.0" in client.versions(project.stage_index("qa"), "plain-f", inherited=False)


@pytest.mark.pypi
@pytest.mark.skipif(
    os.environ.get("PIPL_TEST_PYPI") != "1", reason="reaches pypi.org; set PIPL_TEST_PYPI=1"
)
def test_requirements_from_pypi_are_met_through_the_mirror(tmp_path):
    from pipl.index.stages import create_default
    from pipl.project import server
    from tests.conftest import new_project

    online = new_project(tmp_path / "online", pypi_mirror=True)
    dev, qa = online.stage_index(), online.stage_index("qa")
    with server.running(online):
        with connect(online, "admin") as admin:
            create_default(online, admin)
        with connect(online, "owner") as owner:
            owner.upload(dev, make_wheel(tmp_path, "uses-six", "1.0", requires=["six>=1.16"]))
            result = promote(owner, online.name, "uses-six", "1.0", source=dev, target=qa)
            assert result.plan.missing == []
            assert [(p.project, p.copied) for p in result.pushed] == [
                ("uses-six", ["uses_six-1.0-py3-none-any.whl"])
            ]
            ghost = make_wheel(
                tmp_path / "b", "uses-ghost", "1.0", requires=["no-such-dist-pipl-test>=1"]
            )
            owner.upload(dev, ghost)
            with pytest.raises(PromotionRefused, match="no-such-dist-pipl-test>=1"):
                promote(owner, online.name, "uses-ghost", "1.0", source=dev, target=qa)


# -- one promotion for the CLI and the API ---------------------------------------------------


@pytest.fixture(scope="module")
def api(project, web):
    """The project's owner on the HTTP API."""
    from pipl import Client

    with Client(web) as client:
        client.login(project.owner, project.secrets.password(project.owner) or "")
        yield client


def test_a_cli_push_is_in_the_catalog_at_once(project, owner, stages, publish, api):
    """No runner keeps this project's catalog: only the push itself can have told it."""
    from pipl.ci import db
    from pipl.index import catalog

    _, qa, _ = stages
    publish("cat-push", "1.0")
    listed = {(r.project, r.version) for r in api.releases.list("qa", limit=500).releases}
    assert ("cat-push", "1.0") not in listed  # the catalog is in step with devpi here
    assert cli(project, "cat-push", "1.0", "--to", qa).exit_code == 0  # an index in full
    with db.open_db(project.root) as conn:
        entry = catalog.get(conn, qa, "cat-push", "1.0")
    assert entry is not None and [f["name"] for f in entry.files] == [
        "cat_push-1.0-py3-none-any.whl"
    ]
    listed = {(r.project, r.version) for r in api.releases.list("qa", limit=500).releases}
    assert ("cat-push", "1.0") in listed
    # without --to, the release goes one stage further than the furthest one holding it
    result = cli(project, "cat-push", "1.0", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["data"]["target"] == project.stage_index("prod")


@pytest.fixture(scope="module")
def alike(project, tmp_path_factory):
    """Release alike 1.0 on the first stage."""
    wheel = make_wheel(tmp_path_factory.mktemp("alike"), "alike", "1.0")
    with connect(project, "owner") as owner:
        owner.upload(project.stage_index(), wheel)


# (CLI arguments, API parameters, the error's class name, words of its message)
BAD = [
    (["--to", "qx"], {"to": "qx"}, "ProjectError", "unknown stage 'qx'"),
    (["--from", "dev", "--to", "nope"], {"source": "dev", "to": "nope"}, "ProjectError", "nope"),
    (["--to", "../qa"], {"to": "../qa"}, "UsageError", "invalid user name '..'"),
    (
        ["--from", "dev", "--to", "prod"],
        {"source": "dev", "to": "prod"},
        "PromotionRefused",
        "--skip-stage",
    ),
    (["--from", "prod"], {"source": "prod"}, "PromotionRefused", "the last stage"),
]


@pytest.mark.parametrize(("args", "params", "kind", "words"), BAD)
def test_bad_promotions_fail_alike_on_the_cli_and_the_api(
    project, alike, api, args, params, kind, words
):
    from pipl import Client
    from pipl.errors import PiplError

    result = cli(project, "alike", "1.0", *args)
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("Error: ") and words in line, line
    with Client.from_project(project.root) as local:
        for client in (api, local):
            with pytest.raises(PiplError) as caught:
                client.promote("alike", "1.0", **params)
            assert type(caught.value).__name__ == kind
            assert f"Error: {caught.value}" == line
            assert result.exit_code == caught.value.exit_code


@pytest.mark.parametrize(
    ("name", "version", "words"),
    [
        ("../evil", "1.0", "invalid package name '../evil'"),
        ("alike", "1.0;rm", "invalid version '1.0;rm'"),
        ("never-published", "1.0", "no release never-published 1.0 on the stages"),
    ],
)
def test_a_bad_release_fails_alike_on_the_cli_and_the_api(
    project, alike, api, name, version, words
):
    from pipl.errors import PiplError

    result = cli(project, name, version)
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert words in line, line
    with pytest.raises(PiplError) as caught:
        api.promote(name, version)
    assert f"Error: {caught.value}" == line and result.exit_code == caught.value.exit_code
