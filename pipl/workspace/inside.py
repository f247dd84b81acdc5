"""Asking a workspace's own Python about itself: envsets, products, task creation, processing.

Packl code never runs in pipl's process: these helpers run ``python -m pipl_pipe.X`` with
the workspace's interpreter. It answers through a result file (``pipl_pipe.answer``), not
through stdout, so packl code printing on import or while it works changes nothing; what
it prints goes to pipl's stderr, where the user sees it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipl_pipe.answer import RESULT_OPTION

from pipl.errors import PiplError, WorkspaceError
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
    *,
    what: str | None = None,
    error: type[PiplError] = WorkspaceError,
) -> Any:
    """Run ``python -m module args`` in the workspace; return what it answered.

    A failure raises ``error`` whose message starts with ``what`` (default: the workspace).
    """
    what = what or f"workspace {ws.name!r}"
    with tempfile.TemporaryDirectory(prefix="pipl-answer-") as tmp:
        result = Path(tmp) / "result.json"
        done = (runner or Runner()).run(
            [ws.python, "-m", module, *args, RESULT_OPTION, result],
            env=env,
            check=False,
            to_stderr=True,
        )
        try:
            answer = json.loads(result.read_text())
        except (OSError, ValueError):
            answer = None
    if not isinstance(answer, dict) or "ok" not in answer:
        raise error(
            f"{what}: python -m {module} exited {done.returncode} without answering "
            "(its output is above)"
        )
    if not answer["ok"]:
        raise error(f"{what}: {answer.get('error')}")
    return answer.get("data")


def has_envsets(ws: Workspace) -> bool:
    return any(
        ep.group == ENVSET_GROUP for dist in ws.distributions().values() for ep in dist.entry_points
    )


def envsets(project: Project, ws: Workspace, base: Mapping[str, str]) -> dict[str, Any]:
    """The resolved envsets of the workspace (see ``pipl_pipe.envsets``)."""
    if not has_envsets(ws):
        return {"env": {}, "changes": [], "conflicts": [], "order": []}
    result: dict[str, Any] = ask(ws, "pipl_pipe.envsets", [], base)
    return result
