"""Checked uploads and promotion through the API: the library's own checks
(``IndexClient.upload_checked``, ``pipl.index.promote``), and the catalog told at once
what moved."""

from __future__ import annotations

import base64
import binascii
import tempfile
from pathlib import Path
from typing import Any

from pipl import names
from pipl.api.releases import (
    MAX_UPLOAD,
    Moved,
    Promotion,
    Uploaded,
)
from pipl.api.service import Context, operation
from pipl.api.service.releases import index_config, release_name, stage_index, stage_projects
from pipl.errors import NotFound, PromotionRefused, UsageError
from pipl.index import catalog


@operation("releases.upload")
def upload(
    ctx: Context, files: list[Any], stage: str | None = None, replace: bool = False
) -> list[Uploaded]:
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


def _endpoints(
    ctx: Context, project: str, version: str, to: str | None, source: str | None
) -> tuple[str, str]:
    stages_ = ctx.project.stage_indexes
    if to:
        target = stage_index(ctx, to)
        if source:
            return stage_index(ctx, source), target
        at = stages_.index(target)
        return stages_[at - 1] if at > 0 else stages_[0], target
    if source:
        src = stage_index(ctx, source)
    else:
        holders = [
            i
            for i in stages_
            if project in stage_projects(ctx, i) and version in ctx.index.stage_versions(i, project)
        ]
        if not holders:
            raise NotFound(
                f"no release {project} {version} on the stages of {ctx.project.name}: "
                "publish it first",
            )
        src = holders[-1]
    target = str(index_config(ctx, src).get("pipl_promote_to") or "")
    if not target:
        raise PromotionRefused(
            f"{project} {version} is on {src}, the last stage: there is no stage to promote it to"
        )
    return src, target


def _promotions(ctx: Context, asked: list[Any]) -> list[Any]:
    from pipl.index.promote import Promotion as Asked

    result = []
    for item in asked:
        if not isinstance(item, dict):
            raise UsageError("each release to promote is {project, version, to, source}")
        key, version = release_name(str(item.get("project")), str(item.get("version")))
        source, target = _endpoints(ctx, key, version, item.get("to"), item.get("source"))
        result.append(Asked(key, version, source, target))
    return result


def _promote(ctx: Context, asked: list[Any], with_deps: bool, dry_run: bool) -> list[Promotion]:
    from pipl.index.promote import plan_promotion, promote_set

    if dry_run:
        plans = [
            plan_promotion(
                ctx.index, ctx.project.name, a.name, a.version, source=a.source, target=a.target
            )
            for a in asked
        ]
        pushed: list[list[Any]] = [[] for _ in plans]
    else:
        from pipl.ci.gates import check_promotion

        for a in asked:
            check_promotion(
                ctx.project, ctx.index, a.name, a.version, source=a.source, target=a.target
            )
        results = promote_set(ctx.index, ctx.project.name, asked, with_deps=with_deps)
        plans = [r.plan for r in results]
        pushed = [r.pushed for r in results]
        serial = int(ctx.index.status().get("serial", -1))
        for plan in plans:
            for move in plan.moves:
                _record(ctx, plan.target, move.project, move.version, serial)
    answers = []
    for plan, moved in zip(plans, pushed, strict=True):
        copied = {(p.project, p.version): p.copied for p in moved}
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
        answers.append(
            Promotion(plan.project, plan.version, plan.source, plan.target, dry_run, moves, missing)
        )
    return answers


@operation("releases.promote")
def promote(
    ctx: Context,
    project: str,
    version: str,
    to: str | None = None,
    source: str | None = None,
    with_deps: bool = False,
    dry_run: bool = False,
) -> Promotion:
    asked = _promotions(ctx, [{"project": project, "version": version, "to": to, "source": source}])
    return _promote(ctx, asked, with_deps, dry_run)[0]


@operation("releases.promote_set")
def promote_set(ctx: Context, releases: list[Any], with_deps: bool = False) -> list[Promotion]:
    if not isinstance(releases, list) or not releases:
        raise UsageError("give the releases to promote: a list of {project, version, to}")
    return _promote(ctx, _promotions(ctx, releases), with_deps, False)
