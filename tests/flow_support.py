"""Packls for the tests of data flowing downstream: an upstream library and tasks whose
product says which version of their upstream made it."""

from __future__ import annotations

import sys
from pathlib import Path

from pipl.runner import Runner
from pipl.uv import uv_bin

LIB_PYPROJECT = """\
[build-system]
requires = ["flit_core>=3.12,<5"]
build-backend = "flit_core.buildapi"

[project]
name = "{name}"
version = "{version}"
description = "An upstream library"
requires-python = ">=3.11"
"""

TASK_PYPROJECT = """\
[build-system]
requires = ["flit_core>=3.12,<5"]
build-backend = "flit_core.buildapi"

[project]
name = "{name}"
version = "{version}"
description = "A task made with an upstream library"
requires-python = ">=3.11"
dependencies = ["pipl-pipe", "{lib}>={lowest}"]

[project.entry-points."pipl.process"]
{name} = "{module}:process"

[tool.pipl]
kind = "task"
{follow}
"""

TASK_MODULE = '''\
"""A task whose product says which {lib} made it."""

import importlib.metadata as md


def check():
    return True


def process(outdir):
    used = md.version("{lib}")
    (outdir / "report.txt").write_text(f"made with {lib} {{used}}\\n")
    return {{"name": "{name}-report", "type": "report", "description": f"made with {lib} {{used}}"}}
'''


def sdist(tmp: Path, name: str, version: str, pyproject: str, module_text: str) -> Path:
    module = name.replace("-", "_")
    src = tmp / f"src-{name}-{version}"
    (src / module).mkdir(parents=True)
    (src / "pyproject.toml").write_text(pyproject)
    (src / module / "__init__.py").write_text(module_text)
    out = tmp / "dist"
    build = [uv_bin(), "build", "--sdist", "--no-build-isolation", "--python", sys.executable]
    Runner().run([*build, "--out-dir", out, src])
    return next(out.glob(f"{module}-{version}.tar.gz"))


def lib_sdist(tmp: Path, name: str, version: str) -> Path:
    text = f'"""The {name} library."""\n\nVERSION = "{version}"\n'
    return sdist(tmp, name, version, LIB_PYPROJECT.format(name=name, version=version), text)


def task_sdist(tmp: Path, name: str, lib: str, lowest: str = "1.0", *, follow: str = "") -> Path:
    """The sdist of task ``name 0.1.0``: it requires ``lib>=lowest`` and its product says
    which version of ``lib`` made it; ``follow``: a line for its ``[tool.pipl]``."""
    module = name.replace("-", "_")
    pyproject = TASK_PYPROJECT.format(
        name=name, version="0.1.0", lib=lib, lowest=lowest, module=module, follow=follow
    )
    return sdist(tmp, name, "0.1.0", pyproject, TASK_MODULE.format(name=name, lib=lib))
