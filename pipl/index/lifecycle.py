"""Removing a release: only from the first stage, which is volatile; a later stage keeps
its releases, and a release that must not be installed there is yanked instead
(``pipl.index.yank``)."""

from __future__ import annotations

from pipl import names
from pipl.errors import UsageError
from pipl.index.client import IndexClient
from pipl.index.yank import set_yanked, yanked_versions
from pipl.project.project import Project


def stage_name(project: Project, index: str) -> str:
    """``index``'s stage name (``qa``), or ``index`` itself when it is no stage."""
    indexes = project.stage_indexes
    return project.config.stages[indexes.index(index)] if index in indexes else index


def check_removable(project: Project, index: str, name: str, version: str) -> None:
    """Refuse removing a release from any index but the first stage."""
    if index == project.stage_index():
        return
    stage = stage_name(project, index)
    raise UsageError(
        f"{name} {version} is on {stage}, which keeps its releases: yank it instead with "
        f"'pipl proj index yank {name} {version} --stage {stage}'"
    )


def remove_release(
    project: Project, client: IndexClient, index: str, name: str, version: str
) -> None:
    """Remove ``name`` ``version`` from ``index``, the first stage (as a maintainer of it
    there); a yank recorded for it there goes with it."""
    check_removable(project, index, name, version)
    key = names.normalize_dist(names.check_dist(name))
    client.delete_version(index, key, version)
    if version in yanked_versions(client, index, key):
        set_yanked(client, index, key, version, yanked=False)
