"""The owner's QA checks: a policy packl on the base index (``[qa] checks``) runs against
every release in the job's sandbox; its result is attached beside the release's own, a
failing check fails QA (and the gate), a passing one earns QA for a release with no tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ci_support import run_until_idle, task_sdist
from conftest import new_project
from helpers import make_wheel

from pipl.api import Client
from pipl.index.client import IndexClient
from pipl.index.session import connect
from pipl.index.stages import create_default
from pipl.index.users import add_user
from pipl.project import server
from pipl.project.config import QaSettings, parse_qa
from pipl.runner import Runner
from pipl.uv import uv_bin

POLICY_PYPROJECT = """\
[build-system]
requires = ["flit_core>=3.12,<5"]
build-backend = "flit_core.buildapi"

[project]
name = "studio-policy"
version = "1.0"
description = "The studio's rules for every release"
requires-python = ">=3.11"

[project.entry-points."pipl.qa_checks"]
names = "studio_policy:names"

[tool.pipl]
kind = "lib"
"""

POLICY_MODULE = '''\
"""The studio's rules for every release."""

import importlib.metadata


def names(name, version):
    if importlib.metadata.version(name) != version:
        return f"{name} {version} is not the installed release"
    if name.startswith("bad-"):
        return f"{name}: the studio does not ship names starting with bad-"
    return None
'''


def policy_files(tmp: Path) -> list[Path]:
    """The policy packl's sdist and wheel (flit_core, built with pipl's own)."""
    src = tmp / "studio-policy"
    (src / "studio_policy").mkdir(parents=True)
    (src / "pyproject.toml").write_text(POLICY_PYPROJECT)
    (src / "studio_policy" / "__init__.py").write_text(POLICY_MODULE)
    out = tmp / "policy-dist"
    argv = [uv_bin(), "build", "--no-build-isolation", "--python", sys.executable]
    Runner().run([*argv, "--out-dir", out, src])
    return sorted(out.glob("studio_policy-*"))


@pytest.fixture(scope="module")
def policed(tmp_path_factory: pytest.TempPathFactory, hermetic: Path):
    from pipl.ci import service

    tmp = tmp_path_factory.mktemp("qa-policy")
    proj = new_project(tmp / "policed", default_gates=True)
    with (proj.root / "pipl.toml").open("a") as toml:
        toml.write('\n[qa]\nchecks = ["studio-policy"]\n')
    with server.running(proj):
        with connect(proj, "admin") as admin:
            create_default(proj, admin)
            add_user(admin, "alice", "alice-password-1")
        with connect(proj, "owner") as owner:
            for path in policy_files(tmp):  # the owner's policy, on the base index
                owner.upload(proj.base_index, path)
        yield proj
        service.stop(proj)


def upload_as_alice(project, path: Path) -> None:
    with IndexClient(project.url) as alice:
        alice.login("alice", "alice-password-1")
        alice.upload(project.stage_index(), path)


def on(project, stage: str, name: str, version: str) -> bool:
    with connect(project, "anonymous") as anon:
        return any(
            lk.rel == "releasefile" for lk in anon.links(project.stage_index(stage), name, version)
        )


def dev_jobs(project, name: str) -> dict:
    return {
        j.handler: j for j in run_until_idle(project) if j.project == name and "/dev" in j.index
    }


def results(project, name: str, version: str):
    with Client.from_project(project.root) as client:
        release = client.releases.get("dev", name, version)
    return release.qa, {r.env: r for r in release.qa_results}


def test_a_release_that_passes_the_policy_has_it_among_its_qa_results(policed, tmp_path):
    upload_as_alice(policed, task_sdist(tmp_path, "good-task", "1.0"))
    jobs = dev_jobs(policed, "good-task")
    assert jobs["qa"].state == "passed", jobs["qa"].message
    assert "owner checks passed: policy:studio-policy" in jobs["qa"].message
    qa, envs = results(policed, "good-task", "1.0")
    assert qa == "passed"
    assert envs["contract"].passed  # its own (the packl's kind contract)
    policy = envs["policy:studio-policy"]
    assert policy.passed and policy.commands == ["names (studio_policy:names)"]
    assert on(policed, "qa", "good-task", "1.0")


def test_a_release_that_fails_the_policy_fails_qa_and_stays(policed, tmp_path):
    upload_as_alice(policed, task_sdist(tmp_path, "bad-task", "1.0"))
    jobs = dev_jobs(policed, "bad-task")
    assert jobs["qa"].state == "failed"
    assert "policy:studio-policy" in jobs["qa"].message
    assert "names starting with bad-" in jobs["qa"].message
    assert jobs["promote"].state != "passed"
    assert not on(policed, "qa", "bad-task", "1.0")
    qa, envs = results(policed, "bad-task", "1.0")
    assert qa == "failed" and not envs["policy:studio-policy"].passed


def test_a_wheel_without_tests_earns_qa_by_the_owners_check(policed, tmp_path):
    upload_as_alice(policed, make_wheel(tmp_path, "plain-wheel", "1.0"))
    jobs = dev_jobs(policed, "plain-wheel")
    assert jobs["qa"].state == "passed" and not jobs["qa"].message.startswith("QA none")
    qa, envs = results(policed, "plain-wheel", "1.0")
    assert qa == "passed" and envs["policy:studio-policy"].passed
    assert jobs["promote"].state == "passed" and on(policed, "qa", "plain-wheel", "1.0")


OWN_TESTS_PYPROJECT = """\
[build-system]
requires = ["flit_core>=3.12,<5"]
build-backend = "flit_core.buildapi"

[project]
name = "own-tests"
version = "1.0"
description = "A lib with tests of its own and a broken kind contract"
requires-python = ">=3.11"

[tool.pipl]
kind = "lib"

[tool.tox]
env_list = ["own"]

[tool.tox.env.own]
package = "wheel"
commands = [["python", "-c", "import own_tests"]]
"""


def test_a_packl_with_tests_of_its_own_still_has_its_kind_contract_checked(policed, tmp_path):
    src = tmp_path / "own-tests"
    (src / "own_tests").mkdir(parents=True)
    (src / "pyproject.toml").write_text(OWN_TESTS_PYPROJECT)
    (src / "own_tests" / "__init__.py").write_text(
        '"""A lib whose contract does not hold."""\n\n\ndef check():\n    return False\n'
    )
    argv = [uv_bin(), "build", "--sdist", "--no-build-isolation", "--python", sys.executable]
    Runner().run([*argv, "--out-dir", tmp_path / "dist", src])
    upload_as_alice(policed, next((tmp_path / "dist").glob("own_tests-1.0.tar.gz")))
    jobs = dev_jobs(policed, "own-tests")
    assert jobs["qa"].state == "failed" and "contract" in jobs["qa"].message
    qa, envs = results(policed, "own-tests", "1.0")
    assert qa == "failed" and envs["own"].passed and not envs["contract"].passed
    assert envs["policy:studio-policy"].passed
    assert not on(policed, "qa", "own-tests", "1.0")


def test_qa_settings_are_read_and_checked():
    assert parse_qa({}) == QaSettings()
    assert parse_qa({"checks": ["Studio_Policy"], "contracts": False}) == QaSettings(
        ("studio-policy",), False
    )
    with pytest.raises(ValueError, match=r"\[qa\] check is not a setting \(did you mean 'checks'"):
        parse_qa({"check": []})
    with pytest.raises(TypeError, match=r"\[qa\] checks must be a list"):
        parse_qa({"checks": "studio-policy"})
    with pytest.raises(TypeError, match=r"\[qa\] contracts must be true or false"):
        parse_qa({"contracts": "yes"})
    with pytest.raises(ValueError, match=r"\[qa\] checks lists a bad name"):
        parse_qa({"checks": ["no/such"]})
