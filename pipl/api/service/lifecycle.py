"""Operations on a release's lifecycle: yanking it on a stage (the server keeps the yanks
and enforces who may, ``pipl.devpi_yank``), and what was made from it (``pipl.ci.lineage``).
The yanks of the stages are read from their devpi configs (``pipl_yanked``), which a
request reads anyway."""

from __future__ import annotations

from pipl.api.lifecycle import Derived, Yank
from pipl.api.ops import operation
from pipl.api.service import Context
from pipl.api.service.stages import (
    fresh_catalog,
    index_config,
    release_name,
    short_stage,
    stage_index,
)
from pipl.ci import lineage
from pipl.devpi_yank import YANKED_KEY
from pipl.index import catalog


def yanked_releases(ctx: Context) -> dict[tuple[str, str], list[str]]:
    """(project, version) -> the stages it is yanked on."""
    if "lifecycle.yanked" not in ctx.memo:
        found: dict[tuple[str, str], list[str]] = {}
        for index in ctx.project.stage_indexes:
            raw = index_config(ctx, index).get(YANKED_KEY)
            for project, versions in (raw if isinstance(raw, dict) else {}).items():
                for version in versions if isinstance(versions, dict) else {}:
                    found.setdefault((str(project), str(version)), []).append(
                        short_stage(ctx, index)
                    )
        ctx.memo["lifecycle.yanked"] = found
    answer: dict[tuple[str, str], list[str]] = ctx.memo["lifecycle.yanked"]
    return answer


def yank_reason(ctx: Context, index: str, project: str, version: str) -> str | None:
    """Why ``project version`` is yanked on ``index`` ("" for no reason), None: it is not."""
    raw = index_config(ctx, index).get(YANKED_KEY)
    versions = raw.get(project) if isinstance(raw, dict) else None
    reason = versions.get(version) if isinstance(versions, dict) else None
    return str(reason) if reason is not None else None


def from_yanked(ctx: Context, project: str, version: str) -> list[str]:
    """The yanked releases (``NAME==VERSION``) ``project version`` was made from,
    transitively."""
    yanked = yanked_releases(ctx)
    return [f"{p}=={v}" for p, v in lineage.made_of(ctx.ci, project, version) if (p, v) in yanked]


@operation("releases.yank", "POST", "/yank", "user", "yanking or restoring a release")
def yank(
    ctx: Context, stage: str, project: str, version: str, yanked: bool = True, reason: str = ""
) -> Yank:
    """Yank ``project version`` on ``stage`` (``yanked=False``: restore it), as one of its
    maintainers there: pip and uv skip it unless it is pinned with ``==``.
    The caller's own devpi login yanks: the server allows the project's maintainers."""
    from pipl.index.yank import set_yanked

    index = stage_index(ctx, stage)
    key, version = release_name(project, version)
    found = set_yanked(ctx.index, index, key, version, yanked=yanked, reason=reason)
    ctx.memo.pop(f"releases.config:{index}", None)
    ctx.memo.pop("lifecycle.yanked", None)
    return Yank(short_stage(ctx, index), index, key, version, found.yanked, found.reason)


@operation(
    "releases.derived",
    "GET",
    "/derived/{project}/{version}",
    summary="what was made from a release, transitively",
)
def derived(ctx: Context, project: str, version: str) -> list[Derived]:
    """Every release made from ``project version``, transitively, nearest first."""
    key, version = release_name(project, version)
    fresh_catalog(ctx)
    catalog.fill_manifests(ctx.ci, ctx.index)
    stages = set(ctx.project.stage_indexes)
    yanked = yanked_releases(ctx)
    return [
        Derived(
            project=d.project,
            version=d.version,
            stages=[short_stage(ctx, i) for i in ctx.project.stage_indexes if i in d.indexes],
            source=d.source,
            depth=d.depth,
            yanked=yanked.get((d.project, d.version), []),
        )
        for d in lineage.made_from(ctx.ci, key, version)
        if stages & set(d.indexes) or not d.indexes
    ]
