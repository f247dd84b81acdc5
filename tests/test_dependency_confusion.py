"""Dependency confusion, both ways, on a project with the default gates and a PyPI mirror
(PyPI stood in for by ``tests/standin_pypi.py``):

- a release whose name the base index or PyPI has, uploaded to the first stage by anyone,
  stays there until the owner allows the name (``pipl proj index names allow``); a name a
  later stage holds already goes on;
- PyPI's versions of a name published in the project never reach its stages (the base
  index whitelists the bootstrap names only).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipl.api.client import Client
from pipl.ci import db
from pipl.errors import AuthError, PromotionRefused
from pipl.index.allowed_names import (
    change_allowed,
    get_allowed,
    on_mirror,
    unpublished_public_name,
)
from pipl.index.bootstrap import mirror_whitelist
from pipl.index.client import IndexClient
from pipl.index.session import connect
from pipl.index.stages import create_default
from pipl.index.users import add_user
from pipl.project import server
from pipl.project.project import Project
from tests.ci_support import run_until_idle, task_sdist
from tests.conftest import new_project
from tests.helpers import make_wheel, run
from tests.standin_pypi import StandInPyPI
from tests.test_server_rules import twine

ALICE, PASSWORD = "alice", "alice-password-1"
BIN = Path(sys.executable).parent


class Mirrored:
    def __init__(self, project: Project, pypi: StandInPyPI) -> None:
        self.project, self.pypi = project, pypi


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory: pytest.TempPathFactory, hermetic: Path) -> Iterator[Mirrored]:
    """Default gates, the mirror on the stand-in PyPI, and alice, a first-stage user."""
    from pipl.ci import service

    tmp = tmp_path_factory.mktemp("confusion")
    files = [
        make_wheel(tmp / "pypi", "public-lib", "1.0", body="VERSION = 'pypi'\n"),
        make_wheel(tmp / "pypi", "studio-lib", "9.0", body="VERSION = 'pypi'\n"),
    ]
    with StandInPyPI(files) as pypi:
        project = new_project(tmp / "confused", default_gates=True, pypi_mirror=True)
        with server.running(project):
            with connect(project, "admin") as admin:
                admin.modify_index("root/pypi", mirror_url=pypi.url)
                create_default(project, admin)
                add_user(admin, ALICE, PASSWORD)
            yield Mirrored(project, pypi)
            service.stop(project)


def alice_uploads(project: Project, sdist: Path) -> None:
    done = twine(f"{project.url}/{project.stage_index()}", ALICE, PASSWORD, sdist)
    assert done.returncode == 0, done.stdout + done.stderr


def on(project: Project, stage: str, name: str, version: str) -> bool:
    with connect(project, "anonymous") as anon:
        return bool(anon.stage_versions(project.stage_index(stage), name).get(version))


def dev_promote(jobs: list[db.Job], project: Project, name: str, version: str) -> db.Job:
    [job] = [
        j
        for j in jobs
        if j.handler == "promote"
        and j.index == project.stage_index()
        and (j.project, j.version) == (name, version)
    ]
    return job


def test_a_name_on_the_base_index_stays_on_the_first_stage_until_allowed(mirrored, tmp_path):
    project = mirrored.project
    # "wheel" is on the base index (a bootstrap name), at another version than this one
    alice_uploads(project, task_sdist(tmp_path, "wheel", "99.0"))
    job = dev_promote(run_until_idle(project), project, "wheel", "99.0")
    assert job.state == "failed"
    assert (
        f"wheel exists on {project.base_index} and was not first published here: the owner "
        "allows it with 'pipl proj index names allow wheel'" in job.message
    )
    assert not on(project, "qa", "wheel", "99.0")
    # the owner's manual push asks the same gate
    pushed = run(["proj", "index", "push", "wheel", "99.0", "--to", "qa"], project=project.root)
    assert pushed.exit_code != 0 and "was not first published here" in pushed.stderr
    # the owner allows the name: the held promote job runs again and moves the release
    allowed = run(["proj", "index", "names", "allow", "wheel"], project=project.root)
    assert allowed.exit_code == 0, allowed.output
    assert f"queued again: promote job(s) {job.id}" in allowed.output
    again = dev_promote(run_until_idle(project), project, "wheel", "99.0")
    assert again.state == "passed", again.message
    assert on(project, "qa", "wheel", "99.0")
    listed = run(["proj", "index", "names", "list"], project=project.root)
    assert "wheel" in listed.output


def test_a_name_a_later_stage_holds_is_not_held(mirrored, tmp_path):
    project = mirrored.project
    if not on(project, "qa", "wheel", "99.0"):
        pytest.skip("needs wheel 99.0 on qa (the test before)")
    with Client.from_project(project.root) as owner:
        assert owner.releases.change_names("wheel", allowed=False).names == []
    with connect(project, "anonymous") as anon:
        # qa holds wheel now: it was let in before; setuptools, only on the base, was not
        assert unpublished_public_name(project, anon, "wheel") is None
        assert "setuptools exists on" in (
            unpublished_public_name(project, anon, "setuptools") or ""
        )
    alice_uploads(project, task_sdist(tmp_path, "wheel", "99.1"))
    job = dev_promote(run_until_idle(project), project, "wheel", "99.1")
    assert job.state == "passed", job.message
    assert on(project, "qa", "wheel", "99.1")


def test_a_name_on_pypi_is_held_the_same_way(mirrored, tmp_path):
    project, pypi = mirrored.project, mirrored.pypi
    alice_uploads(project, task_sdist(tmp_path, "public-lib", "2.0"))
    job = dev_promote(run_until_idle(project), project, "public-lib", "2.0")
    assert job.state == "failed"
    assert (
        "public-lib exists on PyPI and was not first published here: the owner allows it "
        "with 'pipl proj index names allow public-lib'" in job.message
    )
    assert not on(project, "qa", "public-lib", "2.0")
    # PyPI was asked for the name alone, never for its list of every name
    assert pypi.asked("/simple/") == 0
    with Client.from_project(project.root) as owner:
        changed = owner.releases.change_names("public-lib")
        assert changed.names == ["public-lib"] and changed.retried == [job.id]
    again = dev_promote(run_until_idle(project), project, "public-lib", "2.0")
    assert again.state == "passed", again.message
    assert on(project, "qa", "public-lib", "2.0")


def test_the_mirror_is_asked_for_one_name(mirrored):
    project, pypi = mirrored.project, mirrored.pypi
    with connect(project, "anonymous") as anon:
        assert on_mirror(anon, "public-lib")
        assert not on_mirror(anon, "nowhere-on-pypi")
    assert pypi.asked("/simple/nowhere-on-pypi/") == 1
    assert pypi.asked("/simple/") == 0


def test_only_the_owner_or_root_allows_names(mirrored):
    from pipl.api import service
    from pipl.api.service import Caller, Context

    project = mirrored.project
    with IndexClient(project.url) as alice:
        alice.login(ALICE, PASSWORD)
        # the server refuses her whatever the client (its devpi route) ...
        with pytest.raises(AuthError, match="only its owner"):
            change_allowed(alice, project.stage_index(), "six", allowed=True)
        # ... and pipl's API before it asks the server
        ctx = Context(project, Caller(alice.user, alice.token), alice)
        with pytest.raises(AuthError, match="is for the owner"):
            service.dispatch(ctx, "releases.names_change", {"project": "six"})
        assert "six" not in get_allowed(alice, project.stage_index()).names


def test_pypi_versions_of_a_name_published_here_never_reach_the_stages(mirrored, tmp_path):
    """The other way: PyPI has studio-lib 9.0; the stages holding the project's own
    studio-lib 1.0 install that, and the base index whitelists the bootstrap names only."""
    project = mirrored.project
    with Client.from_project(project.root) as owner:
        owner.releases.change_names("studio-lib")
    with connect(project, "owner") as client:
        client.upload(project.stage_index(), task_sdist(tmp_path, "studio-lib", "1.0"))
    run_until_idle(project)
    assert on(project, "qa", "studio-lib", "1.0")
    with connect(project, "admin") as admin:
        assert admin.get_index(project.base_index)["mirror_whitelist"] == mirror_whitelist()
        for stage in project.stage_indexes:
            assert "studio-lib" not in (admin.get_index(stage).get("mirror_whitelist") or [])
        for stage in ("dev", "qa"):  # the stages that hold it
            versions = admin.versions(project.stage_index(stage), "studio-lib")
            assert set(versions) == {"1.0"}, stage
    found = subprocess.run(
        [
            BIN / "pip",
            "download",
            "--no-deps",
            "--dest",
            tmp_path / "got",
            "--index-url",
            project.simple_url(),
            "studio-lib",
        ],
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0, found.stderr
    [got] = [p.name for p in (tmp_path / "got").iterdir()]
    assert got.startswith("studio_lib-1.0"), got


def test_a_requirement_only_pypi_satisfies_on_prod_waits_for_the_projects_own(mirrored, tmp_path):
    """prod holds no studio-lib yet, so its chain shows PyPI's 9.0; a release needing
    studio-lib>=1 goes there only with the project's own studio-lib, never on PyPI's."""
    from pipl.index.promote import plan_promotion, promote

    project = mirrored.project
    dev, qa, prod = (project.stage_index(s) for s in ("dev", "qa", "prod"))
    if not on(project, "qa", "studio-lib", "1.0"):
        with Client.from_project(project.root) as owner:
            owner.releases.change_names("studio-lib")
        with connect(project, "owner") as client:
            client.upload(dev, task_sdist(tmp_path, "studio-lib", "1.0"))
        run_until_idle(project)
    assert on(project, "qa", "studio-lib", "1.0")
    with connect(project, "owner") as client:
        client.upload(dev, make_wheel(tmp_path, "studio-app", "1.0", requires=["studio-lib>=1"]))
        client.push(dev, "studio-app", "1.0", qa)  # past qa's gate, to keep to the point
        # the gap: on prod's chain PyPI's studio-lib satisfies studio-lib>=1
        assert set(client.versions(prod, "studio-lib")) == {"9.0"}
        assert set(client.versions(qa, "studio-lib")) == {"1.0"}

        plan = plan_promotion(client, project.name, "studio-app", "1.0", source=qa, target=prod)
        [missing] = plan.missing
        assert (missing.requirement, missing.available, missing.own) == ("studio-lib>=1", "1.0", qa)
        assert [(m.project, m.version, m.holder) for m in plan.moves] == [
            ("studio-lib", "1.0", qa),
            ("studio-app", "1.0", qa),
        ]
        with pytest.raises(PromotionRefused) as refused:
            promote(client, project.name, "studio-app", "1.0", source=qa, target=prod)
        assert (
            f"studio-lib would come from PyPI on {prod}, while the project has its own on "
            f"{qa}: promote it first (--with-deps)" in str(refused.value)
        )
        assert not on(project, "prod", "studio-app", "1.0")
        assert not on(project, "prod", "studio-lib", "1.0")

        done = promote(
            client, project.name, "studio-app", "1.0", source=qa, target=prod, with_deps=True
        )
        assert [(p.project, p.version) for p in done.pushed] == [
            ("studio-lib", "1.0"),
            ("studio-app", "1.0"),
        ]
        assert on(project, "prod", "studio-lib", "1.0") and on(project, "prod", "studio-app", "1.0")
        # prod holds the name now: PyPI's versions are hidden there as on qa
        assert set(client.versions(prod, "studio-lib")) == {"1.0"}
