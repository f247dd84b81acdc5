"""Opening the asset store of a project, as configured in its ``pipl.toml``."""

from __future__ import annotations

from pipl_pipe.assets.objects import AssetStore
from pipl_pipe.errors import PipeError
from pipl_pipe.services import Services

from pipl.errors import FrameworkError
from pipl.project.project import Project


def project_store(project: Project) -> AssetStore:
    """The ``asset_store`` service for ``project`` (default: ``PROJECT/assets``)."""
    try:
        store: AssetStore = Services(project_root=project.root).asset_store
    except PipeError as exc:
        raise FrameworkError(str(exc)) from None
    return store
