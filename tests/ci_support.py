"""Helpers for the CI tests: a project of their own, a task packl sdist, running the runner."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from pipl.ci import db
from pipl.index.client import IndexClient
from pipl.project.project import Project
from pipl.runner import Runner
from pipl.service import serve
from pipl.uv import uv_bin

TASK_PYPROJECT = """\
[build-system]
requires = ["flit_core>=3.12,<5"]
build-backend = "flit_core.buildapi"

[project]
name = "{name}"
version = "{version}"
description = "A task packl processed by CI"
requires-python = ">=3.11"
dependencies = ["pipl-pipe"]

[project.entry-points."pipl.process"]
{name} = "{module}:process"

[tool.pipl]
kind = "task"
"""

TASK_MODULE = '''\
"""A task whose processing writes one report."""


def check():
    return {ok}


def process(outdir):
    (outdir / "report.txt").write_text("made by {name}\\n")
    return {{"name": "{name}-report", "type": "report", "description": "{name} report"}}
'''


def task_sdist(tmp: Path, name: str, version: str, *, ok: bool = True) -> Path:
    """An sdist of a task packl (flit_core, built offline with pipl's own flit_core)."""
    module = name.replace("-", "_")
    src = tmp / f"src-{name}-{version}"
    (src / module).mkdir(parents=True)
    (src / "pyproject.toml").write_text(
        TASK_PYPROJECT.format(name=name, version=version, module=module)
    )
    (src / module / "__init__.py").write_text(TASK_MODULE.format(name=name, ok=ok))
    out = tmp / "dist"
    Runner().run(
        [
            uv_bin(),
            "build",
            "--sdist",
            "--no-build-isolation",
            "--python",
            sys.executable,
            "--out-dir",
            out,
            src,
        ]
    )
    return next(out.glob(f"{module}-{version}.tar.gz"))


def run_until_idle(project: Project) -> list[db.Job]:
    """Run the runner in this process until no job is left; return every job."""
    serve(project, stop=threading.Event(), until_idle=True)
    conn = db.open_db(project.root)
    try:
        return db.list_jobs(conn, limit=10_000)
    finally:
        conn.close()


def handled_index(
    admin: IndexClient, project: Project, name: str, handlers: list[str], promote_to: str = ""
) -> str:
    """A fresh index ``OWNER/name`` (based on the base index) with these handlers."""
    from pipl.ci.config import ci_user

    full = f"{project.owner}/{name}"
    admin.create_index(
        full,
        bases=[project.base_index],
        acl_upload=[project.owner, ci_user(project)],
        pipl_handlers=handlers,
        pipl_promote_to=promote_to,
    )
    return full
