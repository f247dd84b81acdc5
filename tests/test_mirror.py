"""A project with the PyPI mirror on, PyPI stood in for by a local server.

devpi's mirror (root/pypi) is pointed at ``tests/standin_pypi.py``, so these run without
network access, in ``make test``.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipl.index.bootstrap import mirror_whitelist
from pipl.index.session import connect
from pipl.index.stages import DefaultIndexes, create_default
from pipl.packl.create import create_packl
from pipl.project import server
from pipl.project.project import Project
from pipl.uv import Uv
from pipl.workspace.workspace import Workspace, create_workspace
from tests.conftest import new_project
from tests.helpers import fails, make_wheel, run
from tests.standin_pypi import StandInPyPI


class Mirrored:
    def __init__(self, project: Project, pypi: StandInPyPI, setup: DefaultIndexes) -> None:
        self.project, self.pypi, self.setup = project, pypi, setup


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory: pytest.TempPathFactory, hermetic: Path) -> Iterator[Mirrored]:
    """A project whose devpi mirrors the stand-in PyPI, its server freshly started."""
    tmp = tmp_path_factory.mktemp("mirrored")
    files = [
        # older than the base index's tomlkit: only PyPI has it
        make_wheel(tmp / "pypi", "tomlkit", "0.12.99", body="VERSION = 'pypi'\n"),
        # a PyPI project under the framework's name must never reach a packl
        make_wheel(tmp / "pypi", "pipl-pipe", "99.0", body="VERSION = 'pypi'\n"),
        make_wheel(tmp / "pypi", "only-on-pypi", "1.0"),
    ]
    with StandInPyPI(files, filler=1000) as pypi:
        project = new_project(tmp / "online", pypi_mirror=True)
        with server.running(project):
            with connect(project, "admin") as admin:
                admin.modify_index("root/pypi", mirror_url=pypi.url)
                setup = create_default(project, admin)
            yield Mirrored(project, pypi, setup)


@pytest.fixture(scope="module")
def ws(mirrored: Mirrored) -> Workspace:
    return create_workspace(mirrored.project, "online")


def test_create_default_sets_up_the_mirror(mirrored):
    project = mirrored.project
    changes = {c.name: c.action for c in mirrored.setup.changes}
    assert changes["root/pypi"] == "updated"
    with connect(project, "admin") as admin:
        assert admin.get_index("root/pypi")["mirror_no_project_list"] is True
        base = admin.get_index(project.base_index)
        assert base["bases"] == ["root/pypi"]
        assert base["mirror_whitelist"] == mirror_whitelist()
        assert "pipl-pipe" not in base["mirror_whitelist"]
        assert {"tomlkit", "flit-core", "setuptools", "wheel"} <= set(base["mirror_whitelist"])
        again = create_default(project, admin)
    assert {c.action for c in again.changes} == {"unchanged"}


def test_packl_name_check_asks_the_mirror_for_one_name(mirrored, ws):
    project, pypi = mirrored.project, mirrored.pypi
    with connect(project, "anonymous") as client:
        create_packl(project, ws, "fresh-name", "lib", client=client)
    # the name list (PyPI's is hundreds of thousands of names) was never fetched
    assert pypi.asked("/simple/") == 0
    assert pypi.asked("/simple/fresh-name/") == 1


def test_packl_name_only_pypi_has_is_refused(mirrored, ws):
    result = run(
        ["packl", "create", "only-on-pypi", "--kind", "lib", "-w", ws.name],
        project=mirrored.project.root,
    )
    fails(result, 8, "'only-on-pypi' already exists on the project index")
    assert not (ws.packls_dir / "only-on-pypi").exists()


def _installed(project: Project, env: Path, requirement: str, name: str) -> str:
    """The version of ``name`` that installing ``requirement`` from the project's first
    stage into a new environment gives."""
    uv = Uv()
    uv.venv(env, sys.executable)
    uv.install(env / "bin" / "python", [requirement], index_url=project.simple_url())
    code = f"import importlib.metadata as m; print(m.version({name!r}))"
    return subprocess.run(
        [env / "bin" / "python", "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_pypi_versions_of_bootstrap_names_resolve(mirrored, tmp_path):
    project = mirrored.project
    # a version only PyPI has, beside the base index's own tomlkit
    assert _installed(project, tmp_path / "a", "tomlkit<0.13", "tomlkit") == "0.12.99"
    # the base index's pipl-pipe, never PyPI's project of that name (a higher version)
    ours = importlib.metadata.version("pipl-pipe")
    assert _installed(project, tmp_path / "b", "pipl-pipe", "pipl-pipe") == ours
    with connect(project, "anonymous") as client:
        assert "99.0" not in client.versions(project.stage_index(), "pipl-pipe")
