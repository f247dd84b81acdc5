"""Asking a workspace's own Python about itself: envsets, products, task creation.

Packl code never runs in pipl's process: these helpers run ``python -m pipl_pipe.X`` with
the workspace's interpreter and read its JSON answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pipl.errors import WorkspaceError
from pipl.project.project import Project
from pipl.runner import Runner
from pipl.workspace.workspace import Workspace

ENVSET_GROUP = "pipl_pipe.envset"


def ask(
    ws: Workspace,
    module: str,
    args: Sequence[str],
    env: Mapping[str, str],
    runner: Runner | None = None,
) -> Any:
    """Run ``python -m module args`` in the workspace; return its JSON output."""
    done = (runner or Runner()).run([ws.python, "-m", module, *args], env=env, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1].removeprefix("Error: ") if lines else f"exit {done.returncode}"
        raise WorkspaceError(f"workspace {ws.name!r}: {reason}")
    return json.loads(done.stdout) if "--json" in args else done.stdout


def has_envsets(ws: Workspace) -> bool:
    return any(
        ep.group == ENVSET_GROUP for dist in ws.distributions().values() for ep in dist.entry_points
    )


def envsets(project: Project, ws: Workspace, base: Mapping[str, str]) -> dict[str, Any]:
    """The resolved envsets of the workspace (see ``pipl_pipe.envsets``)."""
    if not has_envsets(ws):
        return {"env": {}, "changes": [], "conflicts": [], "order": []}
    result: dict[str, Any] = ask(ws, "pipl_pipe.envsets", ["--json"], base)
    return result
