"""Workareas: folders that know their project and hold workspaces.

A project always has the ``default`` workarea at ``PROJECT/workareas/default``. Others
live under ``PROJECT/workareas/`` too, or anywhere (``--path``); the project remembers
where in ``.pipl/workareas.toml``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pipl import names
from pipl.errors import WorkspaceError
from pipl.fsutil import atomic_write, locked
from pipl.project.project import Project

MARKER = "pipl-workarea.toml"
DEFAULT_AREA = "default"


@dataclass(frozen=True)
class Workarea:
    name: str
    path: Path
    project_root: Path


def _registry(project: Project) -> Path:
    return project.state_dir / "workareas.toml"


def _registered(project: Project) -> dict[str, Path]:
    try:
        data = tomllib.loads(_registry(project).read_text())
    except FileNotFoundError:
        return {}
    except PermissionError:
        raise WorkspaceError(
            f"cannot read {_registry(project)}: the project's owner must make "
            f"{project.state_dir} readable by the project's users"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise WorkspaceError(f"{_registry(project)} is broken ({exc}); fix or remove it") from None
    return {name: Path(path) for name, path in data.get("workareas", {}).items()}


def _write_registry(project: Project, areas: dict[str, Path]) -> None:
    import tomlkit

    doc = tomlkit.document()
    doc.add("workareas", {name: str(path) for name, path in sorted(areas.items())})
    atomic_write(_registry(project), tomlkit.dumps(doc))


def list_areas(project: Project) -> list[Workarea]:
    found = {DEFAULT_AREA: project.root / "workareas" / DEFAULT_AREA}
    inside = project.root / "workareas"
    if inside.is_dir():
        for folder in inside.iterdir():
            if (folder / MARKER).is_file():
                found[folder.name] = folder
    found.update(_registered(project))
    return [Workarea(name, path, project.root) for name, path in sorted(found.items())]


def get_area(project: Project, name: str | None = None) -> Workarea:
    """The workarea ``name`` (the default one if None), created on first use if default."""
    name = name or DEFAULT_AREA
    for area in list_areas(project):
        if area.name == name:
            if not (area.path / MARKER).is_file():
                if name != DEFAULT_AREA:
                    raise WorkspaceError(
                        f"workarea {name!r} at {area.path} is missing its "
                        f"{MARKER}; recreate it with 'pipl work create-area'"
                    )
                _write_marker(area)
            return area
    raise WorkspaceError(
        f"no workarea {name!r} in project {project.name!r}: create it with "
        f"'pipl work create-area {name}'"
    )


def create_area(project: Project, name: str, path: Path | None = None) -> Workarea:
    names.check_simple(name, "workarea")
    if any(area.name == name for area in list_areas(project)) and name != DEFAULT_AREA:
        raise WorkspaceError(f"workarea {name!r} exists already")
    folder = Path(path).expanduser().absolute() if path else project.root / "workareas" / name
    if folder.exists() and any(folder.iterdir()):
        raise WorkspaceError(f"{folder} is not empty; pick an empty or new folder")
    area = Workarea(name, folder, project.root)
    _write_marker(area)
    if path is not None:
        with locked(_registry(project)):  # two commands registering at once keep both
            registered = _registered(project)
            registered[name] = folder
            _write_registry(project, registered)
    return area


def _write_marker(area: Workarea) -> None:
    import tomlkit

    area.path.mkdir(parents=True, exist_ok=True)
    doc = tomlkit.document()
    doc.add(tomlkit.comment("pipl workarea: holds workspaces of the project below"))
    doc.add("workarea", {"name": area.name, "project": str(area.project_root)})
    atomic_write(area.path / MARKER, tomlkit.dumps(doc))
