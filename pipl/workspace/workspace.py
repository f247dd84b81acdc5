"""Workspaces: a folder with a uv virtualenv that installs from the project index.

Layout of a workspace ``anim`` in the default workarea::

    workareas/default/anim/
        pipl-workspace.toml   marker: name, area, project, stage, who made it and when
        uv.toml, .venv/pip.conf  uv and pip inside the workspace use the project index
        .venv/                the virtualenv (uv)
        packls/               packls edited here, installed in editable mode
"""

from __future__ import annotations

import importlib.metadata as md
import os
import shutil
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipl_pipe.pyproject import now
from pipl_pipe.pyproject import user as current_user

from pipl import names
from pipl.errors import WorkspaceError
from pipl.fsutil import atomic_write
from pipl.project.project import Project
from pipl.uv import Uv
from pipl.workspace.area import Workarea, get_area, list_areas

MARKER = "pipl-workspace.toml"
# workspaces install packls with this extra: editor and tool packls come with it, while
# CI environments, which install without it, stay lean
EDIT_EXTRA = "edit"
ENV_WORKSPACE = "PIPL_WORKSPACE"


@dataclass(frozen=True)
class Workspace:
    name: str
    area: str
    path: Path
    project_root: Path
    stage: str
    created: str = ""
    created_by: str = ""

    @property
    def venv(self) -> Path:
        return self.path / ".venv"

    @property
    def bin_dir(self) -> Path:
        return self.venv / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        return self.bin_dir / ("python.exe" if os.name == "nt" else "python")

    @property
    def packls_dir(self) -> Path:
        return self.path / "packls"

    @property
    def site_packages(self) -> Path:
        found = sorted(self.venv.glob("lib/python3*/site-packages"))
        if not found:
            raise WorkspaceError(
                f"workspace {self.name!r} has no virtualenv at {self.venv}; "
                "remove it and create it again"
            )
        return found[0]

    def distributions(self) -> dict[str, md.Distribution]:
        """Installed distributions by normalized name, read from the venv's metadata."""
        result = {}
        for dist in md.distributions(path=[str(self.site_packages)]):
            name = dist.metadata["Name"]
            if name:
                result[names.normalize_dist(name)] = dist
        return result

    def index_url(self, project: Project) -> str:
        return project.simple_url(project.stage_index(self.stage))

    @classmethod
    def load(cls, path: Path) -> Workspace:
        marker = path / MARKER
        try:
            data = tomllib.loads(marker.read_text())["workspace"]
            return cls(
                name=data["name"],
                area=data["area"],
                path=path.resolve(),
                project_root=Path(data["project"]),
                stage=data["stage"],
                created=data.get("created", ""),
                created_by=data.get("created-by", ""),
            )
        except FileNotFoundError:
            raise WorkspaceError(f"{path} is not a workspace (no {MARKER})") from None
        except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
            raise WorkspaceError(
                f"{marker} is broken ({exc}); fix it or recreate the workspace"
            ) from None

    def save(self) -> None:
        import tomlkit

        doc = tomlkit.document()
        doc.add(tomlkit.comment("pipl workspace"))
        doc.add(
            "workspace",
            {
                "name": self.name,
                "area": self.area,
                "project": str(self.project_root),
                "stage": self.stage,
                "created": self.created,
                "created-by": self.created_by,
            },
        )
        atomic_write(self.path / MARKER, tomlkit.dumps(doc))


def list_workspaces(project: Project, area: str | None = None) -> list[Workspace]:
    found = []
    for wa in list_areas(project):
        if (area and wa.name != area) or not wa.path.is_dir():
            continue
        for folder in sorted(wa.path.iterdir()):
            if (folder / MARKER).is_file():
                found.append(Workspace.load(folder))
    return found


def find_workspace(
    project: Project, name: str | None = None, start: Path | None = None
) -> Workspace:
    """Workspace ``name`` (``NAME`` or ``AREA/NAME``); else ``$PIPL_WORKSPACE``; else the
    one at or above ``start`` (the current folder)."""
    if name:
        area, _, short = name.rpartition("/")
        matches = [ws for ws in list_workspaces(project, area or None) if ws.name == short]
        if not matches:
            raise WorkspaceError(
                f"no workspace {name!r} in project {project.name!r}: "
                f"create it with 'pipl work create {short}'"
            )
        if len(matches) > 1:
            where = ", ".join(f"{ws.area}/{ws.name}" for ws in matches)
            raise WorkspaceError(
                f"workspace name {name!r} is ambiguous ({where}): write it as AREA/NAME"
            )
        return matches[0]
    if os.environ.get(ENV_WORKSPACE):
        return Workspace.load(Path(os.environ[ENV_WORKSPACE]))
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER).is_file():
            return Workspace.load(folder)
    raise WorkspaceError(
        f"no workspace at or above {here}: give its name (-w NAME), cd into "
        f"one, or create one with 'pipl work create NAME'"
    )


def _configure_installers(ws: Workspace, index_url: str) -> None:
    """uv and pip run inside the workspace install from the project index."""
    atomic_write(ws.path / "uv.toml", f'# written by pipl\n[pip]\nindex-url = "{index_url}"\n')
    atomic_write(ws.venv / "pip.conf", f"# written by pipl\n[global]\nindex-url = {index_url}\n")


def create_workspace(
    project: Project,
    name: str,
    *,
    area: str | None = None,
    stage: str | None = None,
    python: str | None = None,
    requirements: Iterable[str] = (),
    uv: Uv | None = None,
) -> Workspace:
    """Make a workspace with a fresh virtualenv; optionally install ``requirements``."""
    names.check_simple(name, "workspace")
    stage = stage or project.config.stages[0]
    project.stage_index(stage)  # validates the stage name
    wa: Workarea = get_area(project, area)
    path = wa.path / name
    if path.exists():
        raise WorkspaceError(
            f"{path} exists already; pick another workspace name "
            "or remove it with 'pipl work remove'"
        )
    ws = Workspace(name, wa.name, path, project.root, stage, now(), current_user())
    uv = uv or Uv()
    try:
        path.mkdir(parents=True)
        ws.packls_dir.mkdir()
        uv.venv(ws.venv, python or sys.executable)
        index_url = ws.index_url(project)
        _configure_installers(ws, index_url)
        reqs = list(requirements)
        if reqs:
            uv.install(ws.python, reqs, index_url=index_url, extra=EDIT_EXTRA)
        ws.save()  # the marker comes last: a workspace without it is unfinished
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return ws


def remove_workspace(ws: Workspace) -> None:
    if not (ws.path / MARKER).is_file():
        raise WorkspaceError(f"{ws.path} is not a workspace; refusing to delete it")
    (ws.path / MARKER).unlink()  # no longer a workspace, even if the rest fails
    shutil.rmtree(ws.path)


def clone_workspace(
    project: Project,
    src: Workspace,
    new_name: str,
    *,
    area: str | None = None,
    uv: Uv | None = None,
) -> Workspace:
    """A copy of ``src``: same installed versions (from uv's cache), its packls copied.

    Packls edited inside ``src`` are copied (a snapshot); editable packages outside it
    stay shared.
    """
    uv = uv or Uv()
    frozen = uv.freeze(src.python)
    ws = create_workspace(project, new_name, area=area or src.area, stage=src.stage, uv=uv)
    try:
        if src.packls_dir.is_dir():
            shutil.copytree(
                src.packls_dir,
                ws.packls_dir,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("dist", "__pycache__", "*.egg-info"),
            )
        pins, editables = [], []
        for line in frozen:
            if line.startswith("-e "):
                target = Path(_path_from_url(line[3:].strip()))
                if target.is_relative_to(src.packls_dir):
                    target = ws.packls_dir / target.relative_to(src.packls_dir)
                editables.append(target)
            elif not line.startswith("#"):
                pins.append(line)
        if pins or editables:
            uv.install(
                ws.python,
                pins,
                editables=editables,
                index_url=ws.index_url(project),
                extra=EDIT_EXTRA,
            )
    except BaseException:
        shutil.rmtree(ws.path, ignore_errors=True)
        raise
    return ws


def _path_from_url(url: str) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(url).path) if url.startswith("file:") else url
