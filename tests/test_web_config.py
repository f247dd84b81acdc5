"""The ``[web]`` table: where the dashboard listens, and turning it off."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipl.errors import ProjectError
from pipl.project.project import Project
from pipl.web.address import load_web_config


def _with_web(tmp_path: Path, table: str) -> Project:
    root = tmp_path / "p"
    root.mkdir()
    (root / "pipl.toml").write_text(f'[project]\nname = "p"\n[server]\nport = 4100\n{table}')
    return Project.load(root)


def test_defaults_follow_the_server(tmp_path: Path) -> None:
    config = load_web_config(_with_web(tmp_path, ""))
    assert (config.host, config.port, config.enabled) == ("127.0.0.1", 4101, True)


def test_set_port_host_and_off(tmp_path: Path) -> None:
    config = load_web_config(
        _with_web(tmp_path, '[web]\nport = 0\nhost = "10.1.2.3"\nenabled = false\n')
    )
    assert (config.host, config.port, config.enabled) == ("10.1.2.3", 0, False)


@pytest.mark.parametrize("bad", ["port = 70000", 'port = "x"', "enabled = 1"])
def test_a_bad_value_names_the_table(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ProjectError, match=r"\[web\]"):
        load_web_config(_with_web(tmp_path, f"[web]\n{bad}\n"))


def test_a_disabled_dashboard_is_not_served(tmp_path: Path) -> None:
    from pipl.service import start_web

    said: list[str] = []
    assert start_web(_with_web(tmp_path, "[web]\nenabled = false\n"), said.append) is None
    assert said == []


def test_a_taken_port_is_one_line_and_the_runner_goes_on(tmp_path: Path) -> None:
    import socket

    from pipl.service import start_web

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        project = _with_web(tmp_path, f"[web]\nport = {port}\n")
        said: list[str] = []
        assert start_web(project, said.append) is None
    assert len(said) == 1 and f"127.0.0.1:{port}" in said[0] and "[web] port" in said[0]
