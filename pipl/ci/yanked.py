"""CI leaves a yanked release alone: the promote and process handlers call
``refuse_yanked`` first, and a release yanked on the job's stage ends the job with one
line saying how to restore it."""

from __future__ import annotations

from pipl.ci.handlers import HandlerFailed, JobContext


def refuse_yanked(ctx: JobContext, action: str) -> None:
    """Fail the job (``action``: what it would have done, "promoted") when its release is
    yanked on the job's stage."""
    from pipl.index.lifecycle import stage_name
    from pipl.index.yank import yank_state

    state = yank_state(ctx.client, ctx.index, ctx.name, ctx.version)
    if not state.yanked:
        return
    stage = stage_name(ctx.project, ctx.index)
    why = f" ({state.reason})" if state.reason else ""
    raise HandlerFailed(
        f"not {action}: {ctx.name} {ctx.version} is yanked on {stage}{why}; restore it with "
        f"'pipl proj index yank {ctx.name} {ctx.version} --stage {stage} --undo' first"
    )
