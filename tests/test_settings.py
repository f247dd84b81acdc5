"""The one model of ``pipl.toml``: every table read from one file, one unknown-key check,
one line per bad value naming the file, the table and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipl.ci.config import load_ci_config
from pipl.ci.gates import load_gates
from pipl.ci.reviews import load_config as load_review_config
from pipl.errors import ProjectError
from pipl.project.config import Gate, PiplToml, QaSettings, SandboxConfig
from pipl.project.project import Project
from pipl.web.address import load_web_config

EVERY_TABLE = """
[project]
name = "full"
[server]
port = 4200
[stages]
order = ["dev", "qa", "prod"]
[ci]
workers = 3
timeout = 30
retries = 1
[ci.handlers]
dev = ["qa", "wheel"]
[ci.webhook]
urls = ["https://ci.example/hook"]
[ci.sandbox]
network = false
memory_mb = 512
[web]
port = 0
enabled = false
[gates.prod]
approvals = 2
reviewers = ["lead"]
[reviews]
reviewers = ["carol"]
self_approval = true
[qa]
checks = ["Studio_Policy"]
[services]
asset_store = "my-store"
[config.asset_store]
url = "file:///tmp/x"
"""


def _project(tmp_path: Path, text: str) -> Project:
    root = tmp_path / "p"
    root.mkdir(exist_ok=True)
    (root / "pipl.toml").write_text(text)
    return Project.load(root)


def test_every_table_is_read_into_its_model(tmp_path: Path) -> None:
    project = _project(tmp_path, EVERY_TABLE)
    assert project.config.port == 4200 and project.config.warnings == ()
    ci = load_ci_config(project)
    assert (ci.workers, ci.timeout, ci.retries) == (3, 30.0, 1)
    assert ci.stage_handlers("dev") == ["qa", "wheel"] and ci.stage_handlers("qa")
    assert ci.webhook_urls == ("https://ci.example/hook",)
    assert ci.sandbox == SandboxConfig(network=False, memory_mb=512)
    web = load_web_config(project)
    assert (web.host, web.port, web.enabled) == ("127.0.0.1", 0, False)
    assert load_gates(project)["prod"] == Gate(approvals=2, reviewers=("lead",))
    assert load_review_config(project).reviewers == ("carol",)
    assert PiplToml.of(project.root).qa() == QaSettings(checks=("studio-policy",))


def test_a_change_to_the_file_is_read_the_next_time(tmp_path: Path) -> None:
    project = _project(tmp_path, EVERY_TABLE)
    toml = project.root / "pipl.toml"
    toml.write_text(toml.read_text().replace("workers = 3", "workers = 5"))
    assert load_ci_config(project).workers == 5


def test_misspelt_keys_of_every_table_warn(tmp_path: Path) -> None:
    text = EVERY_TABLE.replace("workers = 3", "worker = 3").replace("enabled = false", "enable = 0")
    text = text.replace("self_approval", "self_aproval").replace("[qa]", "[gate]\nx = 1\n[qa]")
    warnings = _project(tmp_path, text).config.warnings
    assert "unknown key 'worker' in [ci] of pipl.toml (did you mean 'workers'?)" in warnings
    assert "unknown key 'enable' in [web] of pipl.toml (did you mean 'enabled'?)" in warnings
    assert (
        "unknown key 'self_aproval' in [reviews] of pipl.toml (did you mean 'self_approval'?)"
    ) in warnings
    assert "unknown table [gate] in pipl.toml (did you mean [gates]?)" in warnings
    assert len(warnings) == 4  # names chosen by the user ([services], [ci.handlers]) are no typos


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[gates.prod]\napproval = 1", "[gates.prod] approval is not a setting (did you mean"),
        ("[qa]\ncheck = []", "[qa] check is not a setting (did you mean 'checks'?)"),
        ("[ci.sandbox]\nmemory = 1", "[ci.sandbox] memory is not a setting (did you mean"),
    ],
)
def test_a_misspelt_key_in_a_table_that_guards_something_is_an_error(
    tmp_path: Path, table: str, message: str
) -> None:
    project = _project(tmp_path, f'[project]\nname = "p"\n{table}\n')
    assert project.config.warnings == ()  # an error when read, not a warning
    with pytest.raises(ProjectError) as err:
        load_gates(project)
        PiplToml.of(project.root).qa()
        load_ci_config(project)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[ci]\nworkers = 0", "[ci] workers must be an integer from 1 to 64"),
        ("[ci]\nhandlers = 3", "[ci.handlers] must be a table"),
        ('[ci.handlers]\ndev = "qa"', "[ci.handlers] dev must be a list of handler names"),
        ('[ci.handlers]\ndev = ["a/b"]', "[ci.handlers] dev lists a bad name (invalid handler"),
        ('[ci.webhook]\nurls = ["ftp://x"]', "[ci.webhook] urls must be a list of http(s) URLs"),
        ("[ci]\ntimeout = -1", "[ci] timeout must be a positive number of seconds"),
        ('[web]\nport = "x"', "[web] port must be an integer from 0 to 65535"),
        ("[web]\nhost = 1", "[web] host must be text"),
        ('[reviews]\nreviewers = "bob"', "[reviews] reviewers must be a list of user names"),
        ("[reviews]\nself_approval = 1", "[reviews] self_approval must be true or false"),
        ("[gates.nope]\nqa = true", "[gates.nope] names no stage (stages: dev, qa, prod)"),
        ("[gates.qa]\napprovals = -1", "[gates.qa] approvals must be an integer of 0 or more"),
    ],
)
def test_a_bad_value_is_one_line_naming_file_table_and_key(
    tmp_path: Path, table: str, message: str
) -> None:
    project = _project(tmp_path, f'[project]\nname = "p"\n{table}\n')
    toml = PiplToml.of(project.root)
    with pytest.raises(ProjectError) as err:
        toml.ci()
        toml.web(project.config)
        toml.reviews()
        toml.gates(project.config.stages)
    text = str(err.value)
    assert message in text and text.startswith(f"{project.root / 'pipl.toml'}: ")
    assert text.endswith("; fix the file") and "\n" not in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[project]\n", "[project] name is missing"),
        ('[project]\nname = "p"\n[server]\nport = "x"\n', "[server] port must be an integer"),
        ('[project]\nname = "p"\n[server]\nargs = "x"\n', "[server] args must be a list"),
        ('[project]\nname = "p"\n[stages]\norder = "dev"\n', "[stages] order must be a list"),
        ('project = "p"\n', "[project] must be a table"),
        ("[project\n", "is not valid TOML"),
    ],
)
def test_a_project_that_cannot_be_loaded_says_why(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ProjectError, match="fix the file") as err:
        _project(tmp_path, text)
    assert message in str(err.value)
