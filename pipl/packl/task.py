"""Turning a packl into a task of a type its workspace knows (``create_task``)."""

from __future__ import annotations

from pipl.packl.packl import Packl
from pipl.project.project import Project
from pipl.uv import Uv
from pipl.workspace.inside import ask
from pipl.workspace.shell import workspace_env
from pipl.workspace.workspace import EDIT_EXTRA, Workspace


def create_task(
    project: Project, ws: Workspace, packl: Packl, task_type: str, *, uv: Uv | None = None
) -> str:
    """Edit ``packl`` into a task of ``task_type`` (resolved in the workspace, where task
    types are installed), then reinstall it so its commands exist. Returns the summary."""
    changes = ask(
        ws,
        "pipl_pipe.tasks",
        [str(packl.path), task_type, "--no-refresh"],
        workspace_env(project, ws),
    )
    (uv or Uv()).install(
        ws.python,
        [],
        editables=[packl.path],
        index_url=ws.index_url(project),
        extra=EDIT_EXTRA,
        what=f"reinstall {packl.name}",
    )
    return f"{packl.name} is now a {task_type} task: {', '.join(changes)}; reinstalled"
