"""The stage chain, custom indexes, uploads, pushes and tox results on a real server."""

import json
import subprocess
import sys

import pytest

from pipl.errors import AuthError, Conflict, NotFound, UsageError
from pipl.index.bootstrap import BOOTSTRAP
from pipl.index.stages import create_default
from pipl.names import normalize_dist
from tests.helpers import fails, make_wheel, run


@pytest.fixture
def cli(project):
    def invoke(*args, input=None):
        return run(list(args), input=input, project=project.root)

    return invoke


def test_default_chain_inherits_later_stages(project, admin):
    indexes = admin.indexes()
    owner = project.owner
    assert indexes[f"{owner}/dev"]["bases"] == [f"{owner}/qa"]
    assert indexes[f"{owner}/qa"]["bases"] == [f"{owner}/prod"]
    assert indexes[f"{owner}/prod"]["bases"] == [f"{owner}/base"]
    assert indexes[f"{owner}/base"]["bases"] == []  # offline project: no root/pypi
    assert indexes[f"{owner}/base"]["volatile"] is False
    # only the first stage is volatile: a release that reached a later stage never changes
    assert [indexes[i]["volatile"] for i in project.stage_indexes] == [True, False, False]
    assert indexes[f"{owner}/dev"]["acl_upload"] == [":AUTHENTICATED:"]
    # later stages: the owner, and the CI runner's user that promotes and publishes products
    assert indexes[f"{owner}/qa"]["acl_upload"] == [owner, f"{owner}-ci"]
    # CI options declared by pipl's devpi plugin
    assert indexes[f"{owner}/dev"]["pipl_promote_to"] == f"{owner}/qa"
    assert indexes[f"{owner}/prod"]["pipl_promote_to"] == ""
    # CI handlers per stage, from pipl.toml's [ci] table (defaults here)
    assert indexes[f"{owner}/dev"]["pipl_handlers"] == ["qa", "wheel", "promote"]
    assert indexes[f"{owner}/qa"]["pipl_handlers"] == ["process", "promote"]
    assert indexes[f"{owner}/prod"]["pipl_handlers"] == []


def test_create_default_is_idempotent_and_repairs(project, admin):
    again = create_default(project, admin)
    assert {c.action for c in again.changes} == {"unchanged"}
    assert [u.uploaded for u in again.bootstrap] == [False] * len(BOOTSTRAP)  # identical: kept
    admin.modify_index(f"{project.owner}/qa", bases=[])
    changes = {c.name: c.action for c in create_default(project, admin).changes}
    assert changes[f"{project.owner}/qa"] == "updated"
    assert admin.get_index(f"{project.owner}/qa")["bases"] == [f"{project.owner}/prod"]


def test_cli_create_default_json(cli, project):
    payload = json.loads(cli("proj", "index", "create-default", "--json").output)
    assert payload["kind"] == "default-indexes"
    assert [c["name"] for c in payload["data"]["changes"]] == [
        project.base_index,
        *reversed(project.stage_indexes),
    ]
    carried = {normalize_dist(b["filename"].split("-")[0]) for b in payload["data"]["bootstrap"]}
    assert carried == {normalize_dist(name) for name in BOOTSTRAP}
    assert {"pipl-pipe", "flit-core", "setuptools", "wheel"} <= carried


def test_cli_custom_index_lifecycle(cli, project):
    owner = project.owner
    result = cli(
        "proj",
        "index",
        "create",
        "sandbox",
        "--bases",
        "dev",
        "--handlers",
        "qa,wheel",
        "--promote-to",
        "qa",
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(cli("proj", "index", "show", "sandbox", "--json").output)["data"]
    assert shown["name"] == f"{owner}/sandbox"
    assert shown["bases"] == [f"{owner}/dev"]
    assert shown["pipl_handlers"] == ["qa", "wheel"]
    assert shown["pipl_promote_to"] == f"{owner}/qa"
    listing = cli("proj", "index", "list").output
    assert f"{owner}/sandbox" in listing and "qa,wheel" in listing
    fails(cli("proj", "index", "create", "sandbox"), 5, "exists")
    assert cli("proj", "index", "remove", "sandbox", "--yes").exit_code == 0
    fails(cli("proj", "index", "show", "sandbox"), 5, "sandbox")
    fails(cli("proj", "index", "remove", "base", "--yes"), 5, "non-volatile")
    fails(cli("proj", "index", "create", "a/b/c"), 2, "invalid index name")
    fails(cli("proj", "index", "create", "x", "--bases", "no-such"), 5, "no-such")


def test_upload_to_a_later_stage_installs_from_the_first(project, owner, tmp_path):
    wheel = make_wheel(tmp_path / "dist", "chain-probe", "1.0", body="WHERE = 'prod'\n")
    assert owner.upload(project.stage_index("prod"), wheel).uploaded
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--target",
            str(target),
            "--index-url",
            project.simple_url(),
            "chain-probe",
        ],
        check=True,
    )
    assert (target / "chain_probe" / "__init__.py").read_text() == "WHERE = 'prod'\n"


def test_upload_rules(project, owner, tmp_path):
    dev, base = project.stage_index(), project.base_index
    wheel = make_wheel(tmp_path / "a", "up-rules", "1.0")
    assert owner.upload(dev, wheel).uploaded is True
    assert owner.upload(dev, wheel).uploaded is False  # identical: nothing sent
    changed = make_wheel(tmp_path / "b", "up-rules", "1.0", body="CHANGED = 1\n")
    with pytest.raises(Conflict, match=f"up_rules-1.0-py3-none-any.whl is already on {dev}"):
        owner.upload(dev, changed)  # even the volatile first stage keeps released files
    assert owner.upload(dev, changed, replace=True).replaced is True
    assert owner.upload(base, wheel).uploaded is True
    assert owner.upload(base, wheel).uploaded is False
    with pytest.raises(Conflict, match="bump the version"):
        owner.upload(base, changed)
    with pytest.raises(UsageError, match="not a file"):
        owner.upload(dev, tmp_path / "a")
    with pytest.raises(UsageError, match="no such file"):
        owner.upload(dev, tmp_path / "missing.whl")
    (tmp_path / "broken-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    with pytest.raises(UsageError, match="cannot read package metadata"):
        owner.upload(dev, tmp_path / "broken-1.0-py3-none-any.whl")


def test_first_stage_takes_any_user_later_stages_only_the_owner(project, admin, tmp_path):
    from pipl.index.client import IndexClient

    admin.create_user("bob", "bob-pw")
    wheel = make_wheel(tmp_path, "bobs-tool", "0.1")
    with IndexClient(project.url) as bob:
        bob.login("bob", "bob-pw")
        assert bob.upload(project.stage_index(), wheel).uploaded
        with pytest.raises(AuthError, match="qa"):
            bob.push(project.stage_index(), "bobs-tool", "0.1", project.stage_index("qa"))
    with IndexClient(project.url) as anonymous, pytest.raises(AuthError):
        anonymous.upload(project.stage_index(), make_wheel(tmp_path / "x", "anon-pkg", "1"))


def test_push_checks_the_target_first(project, owner, admin, tmp_path):
    dev, qa, base = project.stage_index(), project.stage_index("qa"), project.base_index
    owner.upload(dev, make_wheel(tmp_path, "pushy", "2.0"))
    first = owner.push(dev, "pushy", "2.0", qa)
    assert first.copied == ["pushy-2.0-py3-none-any.whl"] and first.skipped == []
    again = owner.push(dev, "pushy", "2.0", qa)
    assert again.copied == [] and again.skipped == ["pushy-2.0-py3-none-any.whl"]
    # non-volatile target already holding the file: no 409, a skip
    owner.push(dev, "pushy", "2.0", base)
    assert owner.push(dev, "pushy", "2.0", base).skipped == ["pushy-2.0-py3-none-any.whl"]
    # the same name with other content on the target is refused before devpi sees it
    other = make_wheel(tmp_path / "other", "pushy", "2.0", body="X = 2\n")
    with pytest.raises(Conflict, match=f"{qa} holds it too"):  # dev inherits qa's file
        owner.upload(dev, other, replace=True)
    side = f"{project.owner}/push-side"  # an index outside the chain, with other bytes
    admin.create_index(side, acl_upload=[project.owner])
    owner.upload(side, other)
    try:
        # prod itself has no pushy 2.0, but the base it inherits from has other bytes
        with pytest.raises(Conflict, match=f"exists on {base} with other content: bump the"):
            owner.push(side, "pushy", "2.0", project.stage_index("prod"))
    finally:
        admin.delete_index(side)
    with pytest.raises(NotFound, match=r"no files of pushy 9\.9"):
        owner.push(dev, "pushy", "9.9", qa)


def test_cli_upload_and_push(cli, project, tmp_path):
    wheel = make_wheel(tmp_path, "cli-pkg", "1.2.3")
    result = cli("proj", "index", "upload", str(wheel))
    assert result.exit_code == 0 and "uploaded" in result.output
    assert "identical, skipped" in cli("proj", "index", "upload", str(wheel)).output
    result = cli("proj", "index", "push", "cli-pkg", "1.2.3", "--to", "qa")
    assert result.exit_code == 0 and f"-> {project.owner}/qa" in result.output
    bad = tmp_path / "notes.txt"
    bad.write_text("x")
    fails(cli("proj", "index", "upload", str(bad)), 2, "not a wheel")


def test_toxresult_attaches_to_the_release_file(project, owner, tmp_path):
    dev = project.stage_index()
    owner.upload(dev, make_wheel(tmp_path, "toxed", "1.0"))
    [link] = owner.links(dev, "toxed", "1.0")
    owner.upload_toxresult(link, {"reportversion": "1", "toxversion": "4", "testenvs": {}})
    rels = {lk.rel: lk for lk in owner.links(dev, "toxed", "1.0")}
    assert rels["toxresult"].for_href == link.href


def test_versions_and_projects(project, owner, tmp_path):
    dev, prod = project.stage_index(), project.stage_index("prod")
    owner.upload(prod, make_wheel(tmp_path, "layered", "1.0"))
    owner.upload(dev, make_wheel(tmp_path, "layered", "1.1"))
    assert set(owner.versions(dev, "layered")) == {"1.0", "1.1"}
    assert set(owner.versions(dev, "layered", inherited=False)) == {"1.1"}
    assert "layered" in owner.projects(dev)
    owner.delete_version(dev, "layered", "1.1")
    assert set(owner.versions(dev, "layered")) == {"1.0"}
    assert owner.versions(dev, "never-uploaded") == {}
