"""``pipl packl build`` and ``publish``: sdist and wheel through uv, upload to a stage."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipl import names
from pipl.errors import PacklError
from pipl.fsutil import locked
from pipl.packl.packl import Packl
from pipl.packl.pyproject import PyProject
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
    the project index).

    uv writes into a temporary folder inside ``dist/``; the files move into ``dist/``
    once both are whole. A failed or interrupted (Ctrl-C) build leaves no partial
    archive there for a later upload to pick up."""
    pyproject = packl.pyproject
    for old in dist_files(packl, pyproject.version):
        old.unlink()
    started = time.perf_counter()
    packl.dist_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".building-", dir=packl.dist_dir) as tmp:
        (uv or Uv()).build(packl.path, Path(tmp), index_url=ws.index_url(project))
        for made in sorted(Path(tmp).iterdir()):
            if made.is_file():
                os.replace(made, packl.dist_dir / made.name)
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
    replace: bool = False,
    uv: Uv | None = None,
) -> Published:
    """Build, then upload to ``stage`` (the workspace's stage by default).

    Identical files already on the index are skipped. A file that would change a released
    one (same name, other content, on the index or one it inherits from) is refused with a
    request to bump the version, before anything is sent. ``replace`` allows it on the
    first stage only, and records the replacement in the packl's history (the sdist that
    replaces the old one carries that record).
    """
    from pipl.index.distfile import read_distfile
    from pipl.index.stages import check_replace_allowed

    index = project.stage_index(stage or ws.stage)
    if replace:
        check_replace_allowed(project, index)
    built = build(project, ws, packl, uv=uv)
    dists = [read_distfile(path) for path in built.files]
    actions = [client.check_upload(index, dist, replace=replace) for dist in dists]
    changed = [
        dist.filename for dist, action in zip(dists, actions, strict=True) if action == "replace"
    ]
    if changed:
        path = packl.path / "pyproject.toml"
        with locked(path):
            pyproject = PyProject(path)
            pyproject.record(
                "replace", f"{built.version} on {index}: {', '.join(changed)} had other content"
            )
            pyproject.save()
        built = build(project, ws, packl, uv=uv)
        dists = [read_distfile(path) for path in built.files]
    started = time.perf_counter()
    uploads = [client.upload(index, dist, replace=replace) for dist in dists]
    return Published(built, index, uploads, time.perf_counter() - started)
