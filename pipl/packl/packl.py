"""Finding packls in a workspace."""

from __future__ import annotations

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


def find_packl(ws: Workspace, name: str | None = None, start: Path | None = None) -> Packl:
    """Packl ``name``; else the one the current folder is in; else the workspace's only one."""
    packls = list_packls(ws)
    if name:
        wanted = names.normalize_dist(names.check_dist(name, "packl"))
        for packl in packls:
            if names.normalize_dist(packl.name) == wanted:
                return packl
        raise PacklError(
            f"no packl {name!r} in workspace {ws.name!r}: create it with "
            f"'pipl packl create {name} --kind KIND'"
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
