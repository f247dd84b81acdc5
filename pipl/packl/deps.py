"""``pipl packl add`` / ``remove``: dependencies installed from the project index and
recorded in the packl's pyproject (with its edit history).

The pyproject is read, changed and saved, and the packl's editable install refreshed,
under the pyproject's file lock: two adds to one packl at once both keep their dependency
and their history entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

from packaging.requirements import InvalidRequirement, Requirement

from pipl import names
from pipl.errors import PacklError, UsageError
from pipl.fsutil import locked
from pipl.packl.packl import Packl, list_packls
from pipl.packl.pyproject import PyProject
from pipl.project.project import Project
from pipl.uv import Uv
from pipl.workspace.workspace import EDIT_EXTRA, Workspace


@dataclass(frozen=True)
class DepChange:
    packl: str
    requirement: str
    extra: str | None
    action: str  # added | changed | removed
    uninstalled: bool = False


def parse_requirement(text: str) -> Requirement:
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise UsageError(f"invalid requirement {text!r}: {exc}") from None
    if req.url:
        raise UsageError(
            f"{text!r}: direct URLs are not allowed in packls; publish the "
            "package to the project index, or use --editable PATH"
        )
    return req


def _name_from_source(path: Path) -> str:
    pyproject = PyProject(path / "pyproject.toml")
    return pyproject.name


def _dep_list(pyproject: PyProject, extra: str | None) -> list[str]:
    import tomlkit

    project = pyproject.project
    if extra is None:
        if "dependencies" not in project:
            project["dependencies"] = tomlkit.array()
        return cast("list[str]", project["dependencies"])
    names.check_simple(extra, "extra")
    extras = project.setdefault("optional-dependencies", tomlkit.table())
    if extra not in extras:
        extras[extra] = tomlkit.array()
    return cast("list[str]", extras[extra])


def _find(deps: list[str], name: str) -> int | None:
    wanted = names.normalize_dist(name)
    for i, dep in enumerate(deps):
        try:
            if names.normalize_dist(Requirement(str(dep)).name) == wanted:
                return i
        except InvalidRequirement:
            continue
    return None


def add(
    project: Project,
    ws: Workspace,
    packl: Packl,
    requirement: str,
    *,
    extra: str | None = None,
    editable: Path | None = None,
    uv: Uv | None = None,
) -> DepChange:
    """Install ``requirement`` into the workspace, then record it in ``packl``.

    Nothing is written to the packl unless the install succeeded.
    """
    uv = uv or Uv()
    name = packl.pyproject.name
    index_url = ws.index_url(project)
    if editable is not None:
        editable = Path(editable).expanduser().resolve()
        if not (editable / "pyproject.toml").is_file():
            raise UsageError(
                f"{editable} has no pyproject.toml: --editable needs a package source folder"
            )
        req = parse_requirement(requirement or _name_from_source(editable))
        if names.normalize_dist(req.name) != names.normalize_dist(_name_from_source(editable)):
            raise UsageError(f"{editable} holds {_name_from_source(editable)!r}, not {req.name!r}")
    else:
        req = parse_requirement(requirement)
    if names.normalize_dist(req.name) == names.normalize_dist(name):
        raise UsageError(f"{name} cannot depend on itself")
    uv.install(
        ws.python,
        [] if editable else [str(req)],
        editables=[editable] if editable else [],
        extra=EDIT_EXTRA,
        index_url=index_url,
        upgrade=[req.name],
        what=f"install {req}",
    )
    detail = (
        str(req)
        + (f" (extra {extra})" if extra else "")
        + (f" (editable {editable})" if editable else "")
    )
    with locked(packl.pyproject_file):
        # read again: another command may have changed the packl during the install
        pyproject = PyProject(packl.pyproject_file)
        deps = _dep_list(pyproject, extra)
        position = _find(deps, req.name)
        if position is None:
            deps.append(str(req))
            action = "added"
        else:
            deps[position] = str(req)
            action = "changed"
        pyproject.record("add", detail)
        pyproject.save()
        _refresh(project, ws, packl, uv)
    return DepChange(pyproject.name, str(req), extra, action)


def remove(
    project: Project,
    ws: Workspace,
    packl: Packl,
    name: str,
    *,
    extra: str | None = None,
    uv: Uv | None = None,
) -> DepChange:
    """Drop ``name`` from ``packl``'s dependencies; uninstall it if nothing else needs it."""
    uv = uv or Uv()
    req_name = parse_requirement(name).name
    with locked(packl.pyproject_file):
        pyproject = PyProject(packl.pyproject_file)
        deps = _dep_list(pyproject, extra)
        position = _find(deps, req_name)
        if position is None:
            where = f"extra {extra!r} of " if extra else ""
            raise PacklError(f"{req_name!r} is not a dependency of {where}{pyproject.name}")
        removed = str(deps[position])
        del deps[position]
        pyproject.record("remove", removed + (f" (extra {extra})" if extra else ""))
        pyproject.save()
        _refresh(project, ws, packl, uv)
    unused = not _still_needed(ws, req_name)
    if unused and names.normalize_dist(req_name) in ws.distributions():
        uv.uninstall(ws.python, [req_name])
    return DepChange(pyproject.name, removed, extra, "removed", uninstalled=unused)


def _refresh(project: Project, ws: Workspace, packl: Packl, uv: Uv) -> None:
    """Reinstall the packl in editable mode so its installed metadata matches pyproject."""
    uv.install(
        ws.python, [], editables=[packl.path], index_url=ws.index_url(project), extra=EDIT_EXTRA
    )


def _still_needed(ws: Workspace, name: str) -> bool:
    wanted = names.normalize_dist(name)
    local = {names.normalize_dist(p.name) for p in list_packls(ws)}
    if wanted in local:
        return True
    for dist_name, dist in ws.distributions().items():
        if dist_name == wanted:
            continue
        for text in dist.requires or []:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if names.normalize_dist(req.name) == wanted and (
                req.marker is None or req.marker.evaluate({"extra": ""})
            ):
                return True
    return False
