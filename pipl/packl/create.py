"""``pipl packl create``: a packl from a template, installed editable in the workspace."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pipl import names
from pipl.errors import PacklError, UsageError
from pipl.packl.packl import Packl, list_packls
from pipl.packl.pyproject import PyProject, user
from pipl.packl.templates import available_kinds, render
from pipl.project.project import Project
from pipl.uv import Uv
from pipl.workspace.workspace import EDIT_EXTRA, Workspace

if TYPE_CHECKING:
    from pipl.index.client import IndexClient

FIRST_VERSION = "0.1.0"


def pipl_pipe_requirement() -> str:
    """The requirement packls get on the framework: the version pipl ships, or newer."""
    import importlib.metadata

    return f"pipl-pipe>={importlib.metadata.version('pipl-pipe')}"


def _clean_description(text: str) -> str:
    return " ".join(text.replace('"', "'").replace("\\", "/").split())


def check_name_free(
    project: Project, ws: Workspace, name: str, client: IndexClient | None = None
) -> None:
    """Refuse a name that clashes (after PEP 503 normalization) in the workspace or on
    the index the workspace installs from."""
    wanted = names.normalize_dist(name)
    for packl in list_packls(ws):
        if names.normalize_dist(packl.name) == wanted:
            raise PacklError(
                f"workspace {ws.name!r} already has packl {packl.name!r}, "
                f"the same name as {name!r} once normalized ({wanted})"
            )
    if client is not None:
        index = project.stage_index(ws.stage)
        if client.versions(index, wanted):
            raise PacklError(
                f"{wanted!r} already exists on the project index ({index}): "
                f"pick another name, or use it with 'pipl packl add {wanted}'"
            )


def create_packl(
    project: Project,
    ws: Workspace,
    name: str,
    kind: str,
    *,
    description: str | None = None,
    client: IndexClient | None = None,
    install: bool = True,
    uv: Uv | None = None,
) -> Packl:
    """Render ``kind``'s template as packl ``name`` in ``ws`` and install it editable."""
    module = names.packl_module(name)
    if kind not in available_kinds():
        raise UsageError(
            f"unknown packl kind {kind!r}: choose one of {', '.join(available_kinds())}"
        )
    if install:
        ws.check_venv()
    check_name_free(project, ws, name, client)
    context = {
        "name": name,
        "module": module,
        "kind": kind,
        "description": _clean_description(description or f"The {name} {kind} packl"),
        "version": FIRST_VERSION,
        "pipl_pipe": pipl_pipe_requirement(),
        "product_type": "generic",
        "user": user(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    dest = ws.packls_dir / name
    if dest.exists():
        raise PacklError(f"{dest} exists already; remove it or pick another name")
    try:
        render(kind, dest, context)
        pyproject = PyProject(dest / "pyproject.toml")
        pyproject.record("create", f"kind {kind} from template {kind}")
        pyproject.save()
        if install:
            (uv or Uv()).install(
                ws.python, [], editables=[dest], index_url=ws.index_url(project), extra=EDIT_EXTRA
            )
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return Packl(dest, name)
