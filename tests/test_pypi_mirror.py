"""A project with devpi's PyPI mirror: packls depend on PyPI packages through it.

Needs network access to pypi.org, so it runs only with PIPL_TEST_PYPI=1.
"""

import os

import pytest

from pipl.index.session import connect
from pipl.index.stages import create_default
from pipl.packl import deps
from pipl.packl.create import create_packl
from pipl.project import server
from pipl.workspace.workspace import create_workspace
from tests.conftest import new_project

pytestmark = [
    pytest.mark.pypi,
    pytest.mark.skipif(
        os.environ.get("PIPL_TEST_PYPI") != "1", reason="reaches pypi.org; set PIPL_TEST_PYPI=1"
    ),
]


def test_packl_depends_on_a_pypi_package_through_the_mirror(tmp_path):
    project = new_project(tmp_path / "online", pypi_mirror=True)
    with server.running(project):
        with connect(project, "admin") as admin:
            changes = create_default(project, admin).changes
        assert changes[0].bases == ["root/pypi"]
        ws = create_workspace(project, "w")
        packl = create_packl(project, ws, "uses-pypi", "lib")
        deps.add(project, ws, packl, "six>=1.16")
        assert "six" in ws.distributions()
        assert "six>=1.16" in packl.pyproject.dependencies
