"""Checked uploads and promotion through the API: the library's own checks
(``IndexClient.upload_checked``; a promotion is carried out by ``pipl.ci.promotion``, as
for ``pipl proj index push``), and the catalog told at once what moved."""

from __future__ import annotations

import base64
import binascii
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipl import names
from pipl.api.ops import operation
from pipl.api.releases import (
    MAX_UPLOAD,
    Moved,
    Promotion,
    Uploaded,
)
from pipl.api.service import Context
from pipl.api.service.stages import stage_index
from pipl.ci import promotion
from pipl.ci.promotion import Asked
from pipl.errors import UsageError
from pipl.index import catalog

if TYPE_CHECKING:
    from pipl.index.promote import PromoteResult


@operation("releases.upload", "POST", "/upload", "user", "upload release files")
def upload(
    ctx: Context, files: list[Any], stage: str | None = None, replace: bool = False
) -> list[Uploaded]:
    """Upload wheels and sdists to ``stage`` (default: the first), checked as ``pipl proj index
    upload`` checks them: all files before any is sent."""
    from pipl.index.distfile import read_distfile
    from pipl.index.stages import check_replace_allowed

    index = stage_index(ctx, stage) if stage else ctx.project.stage_index()
    if replace:
        check_replace_allowed(ctx.project, index)
    if not files:
        raise UsageError("no files to upload: give wheels or sdists")
    total = 0
    with tempfile.TemporaryDirectory(prefix="pipl-upload-") as tmp:
        dists = []
        for item in files:
            name = item.get("filename") if isinstance(item, dict) else None
            if not isinstance(name, str) or not catalog_filename(name):
                raise UsageError(f"invalid file name {name!r}: a wheel or sdist file name")
            try:
                content = base64.b64decode(str(item.get("content", "")), validate=True)
            except (binascii.Error, ValueError):
                raise UsageError(f"{name}: its content is not base64") from None
            total += len(content)
            if total > MAX_UPLOAD:
                raise UsageError(
                    f"{name}: more than {MAX_UPLOAD >> 20} MiB in one upload; "
                    "upload the files in smaller groups"
                )
            path = Path(tmp) / name
            path.write_bytes(content)
            dists.append(read_distfile(path))
        results = ctx.index.upload_checked(index, dists, replace=replace)
        serial = int(ctx.index.status().get("serial", -1))
        for dist in {(d.name, d.version) for d in dists}:
            _record(ctx, index, *dist, serial)
    return [Uploaded(r.filename, r.index, r.action) for r in results]


def catalog_filename(name: str) -> bool:
    from pipl.names import is_release_filename

    return is_release_filename(name)


def _record(ctx: Context, index: str, project: str, version: str, serial: int) -> None:
    """Note in the catalog what this request put on ``index`` (the sweep confirms it)."""
    key = names.normalize_dist(project)
    catalog.record(
        ctx.ci, index, key, version, ctx.index.stage_versions(index, key).get(version), serial
    )


def _asked(item: Any) -> Asked:
    if not isinstance(item, dict):
        raise UsageError("each release to promote is {project, version, to, source}")
    fields = {key: item.get(key) for key in ("project", "version", "to", "source")}
    return Asked(fields["project"] or "", fields["version"] or "", fields["to"], fields["source"])


def _promote(
    ctx: Context, asked: list[Asked], with_deps: bool, dry_run: bool, skip_stage: bool = False
) -> list[Promotion]:
    results = promotion.promote(
        ctx.project,
        ctx.index,
        asked,
        with_deps=with_deps,
        dry_run=dry_run,
        skip_stage=skip_stage,
        conn=ctx.ci,
    )
    return [_answer(r, with_deps, dry_run) for r in results]


def _answer(result: PromoteResult, with_deps: bool, dry_run: bool) -> Promotion:
    plan = result.plan
    copied = {(p.project, p.version): p.copied for p in result.pushed}
    moves = [
        Moved(
            m.project,
            m.version,
            m.holder,
            plan.target,
            sorted(m.files) if dry_run else copied.get((m.project, m.version), []),
            m.required_by or None,
        )
        for m in (plan.moves if with_deps else [plan.release])
    ]
    missing = [str(m) for m in plan.missing if not (with_deps and m.available)]
    return Promotion(plan.project, plan.version, plan.source, plan.target, dry_run, moves, missing)


@operation("releases.promote", "POST", "/promote", "owner", "promoting a release")
def promote(
    ctx: Context,
    project: str,
    version: str,
    to: str | None = None,
    source: str | None = None,
    with_deps: bool = False,
    dry_run: bool = False,
    skip_stage: bool = False,
) -> Promotion:
    """Push a release to stage ``to`` (default: the stage after the furthest one holding it)
    once its requirements are there; ``with_deps`` pushes the missing ones with it, all or
    nothing; ``skip_stage`` lets ``to`` be past the stage after the one holding it. The
    owner's (or root's) right."""
    asked = Asked(project, version, to, source)
    return _promote(ctx, [asked], with_deps, dry_run, skip_stage)[0]


@operation("releases.promote_set", "POST", "/promote-set", "owner", "promoting releases")
def promote_set(ctx: Context, releases: list[Any], with_deps: bool = False) -> list[Promotion]:
    """Promote several releases (``{project, version, to, source}`` each) as one: all of
    them, or none when one cannot be (``Client.transaction``)."""
    if not isinstance(releases, list) or not releases:
        raise UsageError("give the releases to promote: a list of {project, version, to}")
    return _promote(ctx, [_asked(item) for item in releases], with_deps, False)
