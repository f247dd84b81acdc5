"""``pipl proj create`` and finding the current project (no server needed)."""

import json
import stat
import tomllib

import pytest

from pipl.errors import CommandError, ProjectError, UsageError
from pipl.project import find_project
from pipl.project.create import create_project
from pipl.runner import Runner
from tests.helpers import fails, run


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_create_writes_config_secrets_and_server_dir(tmp_path):
    proj = create_project(tmp_path / "film", port=4111, stages=["dev", "prod"], pypi_mirror=False)
    data = tomllib.loads((tmp_path / "film" / "pipl.toml").read_text())
    assert data["project"]["name"] == "film"
    assert data["server"]["port"] == 4111
    assert data["server"]["pypi_mirror"] is False
    assert data["stages"]["order"] == ["dev", "prod"]
    assert (proj.serverdir / ".nodeinfo").is_file()
    secrets = proj.secrets
    assert _mode(secrets.path) == 0o700
    assert _mode(proj.serverdir) == 0o700  # devpi's database holds password hashes
    assert _mode(proj.state_dir) == 0o755  # the project's other users read .pipl
    assert _mode(proj.server_uuid_file) == 0o644
    nodeinfo = json.loads((proj.serverdir / ".nodeinfo").read_text())
    assert proj.server_uuid_file.read_text() == nodeinfo["uuid"] + "\n"
    for path in (
        secrets.server_secret_file,
        secrets.password_file("root"),
        secrets.password_file("film"),
    ):
        assert _mode(path) == 0o600
    root_pw = secrets.password("root")
    assert root_pw and len(root_pw) >= 24  # generated, never empty
    assert secrets.password("film") != root_pw
    assert proj.stage_indexes == ["film/dev", "film/prod"]
    assert proj.base_index == "film/base"


def test_create_into_existing_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    proj = create_project(tmp_path / "empty", name="renamed", pypi_mirror=False)
    assert proj.name == "renamed"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_refuses_existing_project_and_non_empty_folder(tmp_path):
    create_project(tmp_path / "p", pypi_mirror=False)
    with pytest.raises(ProjectError, match="already a pipl project"):
        create_project(tmp_path / "p")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("keep me")
    with pytest.raises(ProjectError, match="not empty"):
        create_project(tmp_path / "busy")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "keep me"
    with pytest.raises(ProjectError, match="cannot nest"):
        create_project(tmp_path / "p" / "inner")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ProjectError, match="not a folder"):
        create_project(tmp_path / "afile")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "bad name"}, "invalid project name"),
        ({"stages": ["dev", "dev"]}, "unique"),
        ({"stages": ["dev", "../x"]}, "invalid stage name"),
        ({"port": 70000}, "invalid port"),
    ],
)
def test_bad_values_leave_nothing(tmp_path, kwargs, message):
    with pytest.raises(UsageError, match=message):
        create_project(tmp_path / "new" / "proj", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_failure_midway_leaves_nothing_behind(tmp_path):
    class Broken(Runner):
        def run(self, argv, **kwargs):
            raise CommandError("devpi-init failed (simulated)")

    with pytest.raises(CommandError):
        create_project(tmp_path / "a" / "b" / "proj", runner=Broken())
    assert list(tmp_path.iterdir()) == []


def test_folder_name_that_is_no_project_name_suggests_name_option(tmp_path):
    with pytest.raises(UsageError, match="--name"):
        create_project(tmp_path / "my film")


def test_find_project_walks_up_and_honours_overrides(tmp_path, monkeypatch):
    proj = create_project(tmp_path / "p", pypi_mirror=False)
    deep = proj.root / "work" / "a" / "b"
    deep.mkdir(parents=True)
    assert find_project(deep).root == proj.root
    assert find_project(tmp_path, override=proj.root).root == proj.root
    monkeypatch.setenv("PIPL_PROJECT", str(proj.root))
    assert find_project(tmp_path).root == proj.root
    monkeypatch.delenv("PIPL_PROJECT")
    with pytest.raises(ProjectError, match="no pipl project at or above"):
        find_project(tmp_path)
    with pytest.raises(ProjectError, match="is not a pipl project"):
        find_project(override=tmp_path)


def test_broken_pipl_toml_is_named(tmp_path):
    proj = create_project(tmp_path / "p", pypi_mirror=False)
    (proj.root / "pipl.toml").write_text("[project\nname=")
    with pytest.raises(ProjectError, match=r"pipl\.toml is not valid TOML"):
        find_project(proj.root)
    (proj.root / "pipl.toml").write_text("[server]\nport = 1\n")
    with pytest.raises(ProjectError, match="name is missing"):
        find_project(proj.root)


def test_cli_create_and_its_errors(tmp_path):
    result = run(
        [
            "proj",
            "create",
            str(tmp_path / "show"),
            "--no-pypi",
            "--port",
            "4242",
            "--stages",
            "wip,final",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created project 'show'" in result.output
    assert "wip -> final" in result.output
    fails(run(["proj", "create", str(tmp_path / "show")]), 3, "already a pipl project")
    fails(run(["proj", "create", str(tmp_path / "x"), "--stages", "a,a"]), 2, "unique")
    fails(
        run(["proj", "create", str(tmp_path / "y"), "--name", "no/slash"]),
        2,
        "invalid project name",
    )
    fails(run(["proj", "status"], project=tmp_path), 3, "not a pipl project")
