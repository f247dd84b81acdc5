"""``pipl packl create``: a packl from a template, installed editable in the workspace."""

from __future__ import annotations

import contextlib
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pipl import names
from pipl.errors import PacklError, PiplError, UsageError
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
    _check_workspace_name(ws, name)
    if client is not None:
        _check_index_name(project, ws, name, client)


def _check_workspace_name(ws: Workspace, name: str) -> None:
    wanted = names.normalize_dist(name)
    for packl in list_packls(ws):
        if names.normalize_dist(packl.name) == wanted:
            raise PacklError(
                f"workspace {ws.name!r} already has packl {packl.name!r}, "
                f"the same name as {name!r} once normalized ({wanted})"
            )


def _check_index_name(project: Project, ws: Workspace, name: str, client: IndexClient) -> None:
    wanted = names.normalize_dist(name)
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
    _check_workspace_name(ws, name)
    dest = ws.packls_dir / name
    if dest.exists():
        raise PacklError(f"{dest} exists already; remove it or pick another name")
    # The index lookup (slow when the PyPI mirror is asked) runs while the packl is
    # rendered and installed; a clash found then undoes both. A distribution of that
    # name already installed would be replaced by the install: then the lookup comes first.
    replaces = install and names.normalize_dist(name) in ws.distributions()
    with ThreadPoolExecutor(max_workers=1) as pool:
        on_index = pool.submit(_check_index_name, project, ws, name, client) if client else None
        if on_index is not None and replaces:
            on_index.result()
        installed = False
        try:
            render(kind, dest, _template_context(name, module, kind, description))
            pyproject = PyProject(dest / "pyproject.toml")
            pyproject.record("create", f"kind {kind} from template {kind}")
            pyproject.save()
            if install:
                uv = uv or Uv()
                uv.install(
                    ws.python,
                    [],
                    editables=[dest],
                    index_url=ws.index_url(project),
                    extra=EDIT_EXTRA,
                )
                installed = True
            if on_index is not None:
                on_index.result()
        except BaseException:
            if installed and uv is not None:
                with contextlib.suppress(PiplError):
                    uv.uninstall(ws.python, [name])
            shutil.rmtree(dest, ignore_errors=True)
            raise
    return Packl(dest, name)


def _template_context(name: str, module: str, kind: str, description: str | None) -> dict[str, str]:
    return {
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
