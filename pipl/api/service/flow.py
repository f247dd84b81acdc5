"""Pausing and resuming data flowing downstream on a stage, kept in the CI database by
``pipl.ci.downstream``; a paused stage's releases are noted and flow on resume."""

from __future__ import annotations

from pipl.api.flow import FlowStage
from pipl.api.ops import operation
from pipl.api.service import Context
from pipl.api.service.stages import index_config, short_stage, stage_index
from pipl.ci import downstream


def _stage(ctx: Context, index: str, queued: list[int] | None = None) -> FlowStage:
    held = downstream.paused(ctx.ci).get(index)
    handlers = index_config(ctx, index).get("pipl_handlers") or []
    return FlowStage(
        stage=short_stage(ctx, index),
        index=index,
        processing=downstream.HANDLER in handlers,
        paused=held is not None,
        since=held.since if held else None,
        by=held.by if held else None,
        skipped=[f"{p}=={v}" for p, v in downstream.skipped(ctx.ci, index)],
        queued=queued or [],
    )


@operation("flow.status", "GET", "/flow", summary="whether data flows downstream on each stage")
def status(ctx: Context) -> list[FlowStage]:
    """Every stage, in order, and whether its flow is paused."""
    return [_stage(ctx, index) for index in ctx.project.stage_indexes]


@operation("flow.change", "POST", "/flow", "owner", "pausing or resuming the flow on a stage")
def change(ctx: Context, stage: str, paused: bool = True) -> FlowStage:
    """Pause the flow on ``stage``, or resume it and queue what it skipped meanwhile."""
    index = stage_index(ctx, stage)
    if paused:
        downstream.pause(ctx.ci, index, ctx.caller.user or "")
        return _stage(ctx, index)
    return _stage(ctx, index, downstream.resume(ctx.ci, ctx.index, index))
