"""``pipl packl build`` and ``publish``: sdist and wheel through uv, upload to a stage."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipl import names
from pipl.errors import PacklError
from pipl.packl.packl import Packl
from pipl.uv import Uv

if TYPE_CHECKING:
    from pipl.index.client import IndexClient, UploadResult
    from pipl.project.project import Project
    from pipl.workspace.workspace import Workspace


@dataclass(frozen=True)
class Built:
    packl: str
    version: str
    files: list[Path]
    seconds: float


@dataclass(frozen=True)
class Published:
    built: Built
    index: str
    uploads: list[UploadResult] = field(default_factory=list)
    seconds: float = 0.0


def _stem(name: str) -> str:
    return names.normalize_dist(name).replace("-", "_")


def dist_files(packl: Packl, version: str) -> list[Path]:
    """The sdist and wheel of ``version`` in the packl's ``dist/`` folder."""
    if not packl.dist_dir.is_dir():
        return []
    prefix = f"{_stem(packl.pyproject.name)}-{version}"
    return sorted(
        p
        for p in packl.dist_dir.iterdir()
        if p.name.startswith((prefix + "-", prefix + ".tar.gz"))
        and p.name.endswith((".whl", ".tar.gz"))
    )


def build(project: Project, ws: Workspace, packl: Packl, *, uv: Uv | None = None) -> Built:
    """Build the packl's sdist and wheel into ``PACKL/dist`` (build requirements come from
    the project index)."""
    pyproject = packl.pyproject
    for old in dist_files(packl, pyproject.version):
        old.unlink()
    started = time.perf_counter()
    (uv or Uv()).build(packl.path, packl.dist_dir, index_url=ws.index_url(project))
    files = dist_files(packl, pyproject.version)
    if not any(f.name.endswith(".whl") for f in files):
        raise PacklError(f"building {pyproject.name} made no wheel in {packl.dist_dir}")
    return Built(pyproject.name, pyproject.version, files, time.perf_counter() - started)


def publish(
    project: Project,
    ws: Workspace,
    packl: Packl,
    client: IndexClient,
    *,
    stage: str | None = None,
    uv: Uv | None = None,
) -> Published:
    """Build, then upload to ``stage`` (the workspace's stage by default).

    Identical files already on the index are skipped; a changed file under a version that
    a non-volatile index already holds is refused with a request to bump.
    """
    index = project.stage_index(stage or ws.stage)
    built = build(project, ws, packl, uv=uv)
    started = time.perf_counter()
    uploads = [client.upload(index, path) for path in built.files]
    return Published(built, index, uploads, time.perf_counter() - started)
