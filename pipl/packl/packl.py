"""Finding packls in a workspace."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from pipl import names
from pipl.errors import PacklError
from pipl.packl.pyproject import PyProject
from pipl.workspace.workspace import Workspace


@dataclass(frozen=True)
class Packl:
    path: Path
    name: str

    @property
    def pyproject_file(self) -> Path:
        return self.path / "pyproject.toml"

    @property
    def pyproject(self) -> PyProject:
        """The packl's pyproject as it is now (to change it, use ``PyProject.editing``)."""
        return PyProject(self.pyproject_file)

    @property
    def dist_dir(self) -> Path:
        return self.path / "dist"


def list_packls(ws: Workspace) -> list[Packl]:
    found = []
    if ws.packls_dir.is_dir():
        for folder in sorted(ws.packls_dir.iterdir()):
            if (folder / "pyproject.toml").is_file():
                found.append(Packl(folder, folder.name))
    return found


def did_you_mean(name: str, packls: list[Packl]) -> str:
    """``did you mean 'shotlib'?`` for a misspelt packl name (difflib's close matches
    among the workspace's packls), or ``""`` when none comes close."""
    known = {names.normalize_dist(p.name): p.name for p in packls}
    close = difflib.get_close_matches(names.normalize_dist(name), list(known), n=3, cutoff=0.6)
    if not close:
        return ""
    return f"did you mean {' or '.join(repr(known[c]) for c in close)}?"


def find_packl(ws: Workspace, name: str | None = None, start: Path | None = None) -> Packl:
    """Packl ``name``; else the one the current folder is in; else the workspace's only one."""
    packls = list_packls(ws)
    if name:
        wanted = names.normalize_dist(names.check_dist(name, "packl"))
        for packl in packls:
            if names.normalize_dist(packl.name) == wanted:
                return packl
        create = f"create it with 'pipl packl create {name} --kind KIND'"
        guess = did_you_mean(name, packls)
        raise PacklError(
            f"no packl {name!r} in workspace {ws.name!r}: "
            + (f"{guess} Or {create}" if guess else create)
        )
    here = Path(start or Path.cwd()).resolve()
    for packl in packls:
        if here.is_relative_to(packl.path.resolve()):
            return packl
    if len(packls) == 1:
        return packls[0]
    if not packls:
        raise PacklError(
            f"workspace {ws.name!r} has no packl: create one with "
            "'pipl packl create NAME --kind KIND'"
        )
    raise PacklError(
        f"which packl? workspace {ws.name!r} has "
        f"{', '.join(p.name for p in packls)}: give its name, or cd into it"
    )
