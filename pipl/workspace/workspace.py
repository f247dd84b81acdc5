"""Workspaces: a folder with a uv virtualenv that installs from the project index.

Layout of a workspace ``anim`` in the default workarea::

    workareas/default/anim/
        pipl-workspace.toml   marker: name, area, project, stage, who made it and when
        uv.toml, .venv/pip.conf  uv and pip inside the workspace use the project index
        .venv/                the virtualenv (uv), with pip from the project index
        packls/               packls edited here, installed in editable mode

The virtualenv can always be made again from the rest (``pipl.workspace.repair``).
"""

from __future__ import annotations

import importlib.metadata as md
import os
import shutil
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from pipl_pipe.pyproject import now
from pipl_pipe.pyproject import user as current_user

from pipl import names
from pipl.errors import PacklError, WorkspaceError
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
    requirements: tuple[str, ...] = ()  # installed at creation (--with), again on repair
    python_request: str = ""  # --python at creation ("": pipl's own interpreter)

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

    def check_venv(self) -> None:
        """Raise if the virtualenv is gone or its interpreter no longer runs from here."""
        if not self.python.exists() or not sorted(self.venv.glob("lib/python3*/site-packages")):
            raise WorkspaceError(
                f"workspace {self.name!r} has no working virtualenv at {self.venv}: "
                f"rebuild it with 'pipl work repair {self.area}/{self.name}' "
                "(the packl sources are kept)"
            )

    @property
    def site_packages(self) -> Path:
        found = sorted(self.venv.glob("lib/python3*/site-packages"))
        if not found:
            self.check_venv()
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
                requirements=tuple(str(r) for r in data.get("requirements", ())),
                python_request=str(data.get("python", "")),
            )
        except FileNotFoundError:
            raise WorkspaceError(f"{path} is not a workspace (no {MARKER})") from None
        except OSError as exc:
            raise WorkspaceError(f"{marker} cannot be read ({exc.strerror})") from None
        except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
            raise WorkspaceError(
                f"{marker} is broken ({exc}); fix it or recreate the workspace"
            ) from None

    def save(self) -> None:
        import tomlkit

        doc = tomlkit.document()
        doc.add(tomlkit.comment("pipl workspace"))
        table: dict[str, str | list[str]] = {
            "name": self.name,
            "area": self.area,
            "project": str(self.project_root),
            "stage": self.stage,
            "created": self.created,
            "created-by": self.created_by,
        }
        if self.requirements:
            table["requirements"] = list(self.requirements)
        if self.python_request:
            table["python"] = self.python_request
        doc.add("workspace", table)
        atomic_write(self.path / MARKER, tomlkit.dumps(doc))


@dataclass(frozen=True)
class BrokenWorkspace:
    """A folder with a workspace marker that cannot be read."""

    name: str  # the folder's name
    area: str
    path: Path
    error: str


def scan_workspaces(
    project: Project, area: str | None = None
) -> tuple[list[Workspace], list[BrokenWorkspace]]:
    """The workspaces of the project, and apart from them those whose marker is broken:
    one broken workspace hides no other."""
    found, broken = [], []
    for wa in list_areas(project):
        if (area and wa.name != area) or not wa.path.is_dir():
            continue
        for folder in sorted(wa.path.iterdir()):
            if (folder / MARKER).is_file():
                try:
                    found.append(Workspace.load(folder))
                except WorkspaceError as exc:
                    broken.append(BrokenWorkspace(folder.name, wa.name, folder, str(exc)))
    return found, broken


def list_workspaces(project: Project, area: str | None = None) -> list[Workspace]:
    return scan_workspaces(project, area)[0]


def find_workspace(
    project: Project, name: str | None = None, start: Path | None = None
) -> Workspace:
    """Workspace ``name`` (``NAME`` or ``AREA/NAME``); else ``$PIPL_WORKSPACE``; else the
    one at or above ``start`` (the current folder)."""
    if name:
        area, _, short = name.rpartition("/")
        found, broken = scan_workspaces(project, area or None)
        matches = [ws for ws in found if ws.name == short]
        if not matches:
            for bad in broken:
                if bad.name == short:
                    raise WorkspaceError(bad.error)
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


def make_venv(project: Project, ws: Workspace, python: str, uv: Uv) -> None:
    """The workspace's virtualenv: made by uv, with pip from the project index (so ``pip``
    in its shell is its own) and uv and pip configured to install from that index."""
    uv.venv(ws.venv, python)
    index_url = ws.index_url(project)
    _configure_installers(ws, index_url)
    try:
        uv.install(ws.python, ["pip"], index_url=index_url, what="install pip into the workspace")
    except PacklError:
        raise WorkspaceError(
            f"pip is not on the project index {index_url}: put it on the base index "
            "with 'pipl proj index create-default'"
        ) from None


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
    reqs = tuple(requirements)
    ws = Workspace(
        name, wa.name, path, project.root, stage, now(), current_user(), reqs, python or ""
    )
    uv = uv or Uv()
    try:
        path.mkdir(parents=True)
        ws.packls_dir.mkdir()
        make_venv(project, ws, python or sys.executable, uv)
        if reqs:
            uv.install(ws.python, reqs, index_url=ws.index_url(project), extra=EDIT_EXTRA)
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
    ws = create_workspace(
        project,
        new_name,
        area=area or src.area,
        stage=src.stage,
        python=src.python_request or None,
        uv=uv,
    )
    try:
        ws = replace(ws, requirements=src.requirements)
        ws.save()  # a repair of the copy installs what the source was created with
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
