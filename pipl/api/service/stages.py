"""How a request names the project's stages and releases, and the releases catalog it
reads, made fresh: shared by the operations on releases, products, promotion, reviews and
the flow.

The catalog (``pipl.index.catalog``) is kept equal to devpi by the runner; when no runner
keeps it, the first request after a change brings it up to date here.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pipl_pipe.products import VERSION

from pipl import names
from pipl.api.service import Context
from pipl.errors import NotFound, UsageError
from pipl.index import catalog

_SYNC = threading.Lock()  # one catalog refresh at a time in this process
MAX_PAGE = 500


# -- names from the web ------------------------------------------------------------------


def stage_index(ctx: Context, stage: str) -> str:
    """The index of ``stage`` (a stage name or its full index name), readable by the
    caller."""
    project = ctx.project
    if stage in project.config.stages:
        index = project.stage_index(stage)
    elif stage in project.stage_indexes:
        index = stage
    else:
        raise NotFound(
            f"project {project.name} has no stage {stage!r} (its stages: "
            f"{', '.join(project.config.stages)})",
        )
    index_config(ctx, index)
    return index


def short_stage(ctx: Context, index: str) -> str:
    stages = ctx.project.stage_indexes
    return ctx.project.config.stages[stages.index(index)] if index in stages else index


def release_name(project: str, version: str) -> tuple[str, str]:
    names.check_dist(project)
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        raise UsageError(f"invalid version {version!r}: a PEP 440 version such as 1.2.0")
    return names.normalize_dist(project), version


def index_config(ctx: Context, index: str) -> dict[str, Any]:
    """``index``'s configuration, read once per request; reading it proves the caller may
    read the index."""
    key = f"releases.config:{index}"
    if key not in ctx.memo:
        # devpi answers only a caller who may read it (else AuthError), as require_read
        ctx.memo[key] = ctx.index.get_index(index, projects=False)
        ctx._readable.add(index)
    return dict(ctx.memo[key])


# -- the catalog, fresh ------------------------------------------------------------------


def fresh_catalog(ctx: Context) -> tuple[int | None, bool]:
    """Devpi's serial and whether the catalog is true at it (asked once per request).
    With no runner to keep the catalog, it is brought up to date here."""
    if "releases.fresh" not in ctx.memo:
        ctx.memo["releases.fresh"] = _fresh(ctx)
    answer: tuple[int | None, bool] = ctx.memo["releases.fresh"]
    return answer


CATCH_UP = 5.0  # seconds a lookup that misses waits for the runner's sweep


def caught_up(ctx: Context, timeout: float = CATCH_UP) -> bool:
    """Wait (at most ``timeout`` seconds) until the runner's sweep made the catalog true at
    the serial this request saw; whether it did. For a lookup that found nothing in a
    catalog known to be behind: what was just released is then found, not denied."""
    if fresh_catalog(ctx)[1]:
        return True
    target = int(ctx.index.status().get("serial", -1))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        have = catalog.synced_serial(ctx.ci, ctx.project.stage_indexes)
        if have is not None and have >= target:
            ctx.memo["releases.fresh"] = (have, True)
            return True
        time.sleep(0.05)
    return False


def _fresh(ctx: Context) -> tuple[int | None, bool]:
    from pipl.ci.service import runner_pid

    indexes = ctx.project.stage_indexes
    serial = int(ctx.index.status().get("serial", -1))
    have = catalog.synced_serial(ctx.ci, indexes)
    if have is not None and have >= serial:
        return serial, True
    if runner_pid(ctx.project) is not None:
        return have, False  # the runner's sweep is on its way
    with _SYNC:
        have = catalog.synced_serial(ctx.ci, indexes)
        if have is None or have < serial:
            for index in indexes:
                index_config(ctx, index)
            serial = catalog.sync(ctx.ci, ctx.index, indexes)
    return serial, True


def own_links(data: dict[str, Any], index: str) -> dict[str, Any]:
    """``data`` with only the links of files stored on ``index`` itself."""
    from pipl.index.links import Link

    def here(link: dict[str, Any]) -> bool:
        return Link("", str(link.get("href", "")), "", None).index == index

    return {**data, "+links": [lk for lk in data.get("+links") or [] if here(lk)]}
