"""'pipl proj start' serves the dashboard and the HTTP API beside the server; 'pipl proj
status' and 'pipl proj web' say where, and 'pipl proj token' gives a token the remote
client accepts."""

from __future__ import annotations

import re

import httpx
from conftest import new_project
from helpers import fails, run

from pipl import Client
from pipl.web.address import web_url


def test_start_serves_the_dashboard_and_the_commands_say_where(tmp_path) -> None:
    project = new_project(tmp_path / "webproj")
    fails(run(["proj", "web", "--no-browser"], project=project.root), 4, "not served")
    started = run(["proj", "start", "--detach"], project=project.root)
    assert started.exit_code == 0, started.output
    try:
        assert run(["proj", "index", "create-default"], project=project.root).exit_code == 0
        assert "CI runner running" in started.output
        url = web_url(project)
        assert url and url.startswith("http://")
        page = httpx.get(url)
        assert page.status_code == 200 and f"Project {project.name}" in page.text
        status = run(["proj", "status"], project=project.root)
        assert re.search(rf"^dashboard: +{re.escape(url)} ", status.output, re.M), status.output
        shown = run(["proj", "web", "--no-browser"], project=project.root)
        assert shown.exit_code == 0 and shown.output.strip() == url
        token = run(["proj", "token"], project=project.root)
        assert token.exit_code == 0, token.output
        with Client(url, token=token.output.strip()) as client:
            me = client.whoami()
            assert me.user == project.owner and me.is_owner
            assert client.health().runner_running
    finally:
        run(["proj", "stop"], project=project.root)
    assert web_url(project) is None
    with Client(url, timeout=2) as gone:
        try:
            gone.health()
        except Exception as exc:  # the dashboard stopped with the runner
            assert "pipl proj start" in str(exc)
        else:
            raise AssertionError("the dashboard still answers after 'pipl proj stop'")
