"""Opening the asset store of a project: the same ``asset_store`` service its packls use.

The service's provider and config follow pipl-pipe's rule (``pipl_pipe.services``): the
provider named in ``pipl.toml [services] asset_store``, else an installed packl's, else
pipl-pipe's built-in one, with ``[config.asset_store]``. pipl opens it where that provider
is installed:

- in a workspace whose packls provide the store: served from the workspace;
- a provider named in ``pipl.toml`` but not installed beside pipl: served from the
  project's store environment (``.pipl/envs/asset-store``, installed from the project
  index on first use; remove the folder to pick up a new version of the provider);
- otherwise in pipl's own process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipl_pipe.assets.objects import AssetStore
from pipl_pipe.config import BUILTIN
from pipl_pipe.entrypoints import EntryPointIndex, normalize
from pipl_pipe.errors import PipeError
from pipl_pipe.services import SERVICES_GROUP, Services

from pipl import names
from pipl.errors import FrameworkError
from pipl.fsutil import locked
from pipl.project.project import Project

if TYPE_CHECKING:
    from pipl.uv import Uv
    from pipl.workspace.workspace import Workspace

SERVICE = "asset_store"
STORE_ENV = "asset-store"


def store_env_dir(project: Project) -> Path:
    return project.state_dir / "envs" / STORE_ENV


def _installed(env: Path, dist: str) -> bool:
    import importlib.metadata as md

    paths = [str(p) for p in env.glob("lib/python3*/site-packages")]
    return any(
        normalize(d.metadata["Name"] or "") == normalize(dist) for d in md.distributions(path=paths)
    )


def store_env_python(project: Project, provider: str, uv: Uv | None = None) -> Path:
    """The Python of the project's store environment, with ``provider`` installed in it
    (from the project index, the first time)."""
    from pipl.uv import Uv

    names.check_dist(provider, "asset store provider")
    folder = store_env_dir(project)
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with locked(folder):
        if not python.is_file():
            (uv or Uv()).venv(folder, sys.executable)
        if not _installed(folder, provider):
            (uv or Uv()).install(
                python,
                [provider, "pipl-pipe"],
                index_url=project.simple_url(),
                what=f"install {provider}, the asset store provider pipl.toml [services] names",
            )
    return python


def _provided_here(services: Services, dist: str) -> bool:
    return any(
        p.name == SERVICE and normalize(p.dist) == normalize(dist)
        for p in services.index.group(SERVICES_GROUP)
    )


def project_store(project: Project, workspace: Workspace | None = None) -> AssetStore:
    """The ``asset_store`` service of ``project`` (as seen from ``workspace``, if given).

    A store served from another environment is a running child process: close the store
    (or use it in a ``with`` block) when done."""
    from pipl.assets.env_store import EnvStore

    try:
        if workspace is not None:
            inside = Services(EntryPointIndex([str(workspace.site_packages)]), project.root)
            if inside.provider(SERVICE).dist != BUILTIN:
                from pipl.workspace.shell import workspace_env

                return EnvStore(
                    workspace.python,
                    workspace_env(project, workspace),
                    where=f"workspace {workspace.name}",
                    cwd=workspace.path,
                )
        services = Services(project_root=project.root)
        pick = services.configs.choices.get(SERVICE)
        if pick and not _provided_here(services, pick):
            env = dict(os.environ, PIPL_PROJECT=str(project.root))
            env.pop("VIRTUAL_ENV", None)
            return EnvStore(
                store_env_python(project, pick),
                env,
                where=f"{pick} (the project's store environment)",
                cwd=project.root,
            )
        store: AssetStore = services.asset_store
    except PipeError as exc:
        raise FrameworkError(str(exc)) from None
    return store
