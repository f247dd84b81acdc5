"""``promote``: push a release that passed QA to the index named by ``pipl_promote_to``.

It runs once every job before it on the release here has passed (the runner cancels it
otherwise), and only with a passed ``qa`` job for the release, on this index or an earlier
one. The push skips files already on the target, so a rerun changes nothing.
"""

from __future__ import annotations

from pipl.ci.builtin.files import announce
from pipl.ci.handlers import HandlerFailed, JobContext, NotYet


class PromoteHandler:
    rank = 30
    per_file = False
    timeout = None
    needs_passed = True

    def accepts(self, filename: str) -> bool:
        return True

    def run(self, ctx: JobContext) -> str:
        target = ctx.promote_to
        if not target:
            return f"{ctx.index} names no pipl_promote_to: nothing to promote"
        qa = ctx.gates.get("qa:any", "")
        if "qa" not in ctx.gates and qa == "pending":
            raise NotYet(f"QA of {ctx.name} {ctx.version} is still running on another index")
        if "qa" not in ctx.gates and qa != "passed":
            raise HandlerFailed(
                f"not promoted: {ctx.name} {ctx.version} has no passed QA job "
                f"(add 'qa' to the handlers of {ctx.index} or of an earlier stage)"
            )
        summary = _push(ctx, target)
        announce(ctx, target, ctx.name, ctx.version)
        return summary


def _push(ctx: JobContext, target: str) -> str:
    try:
        from pipl.index.promote import promote  # the checked, all-or-nothing promotion
    except ImportError:
        promote = None
    if promote is not None:
        result = promote(
            ctx.client, ctx.project, ctx.name, ctx.version, source=ctx.index, target=target
        )
        ctx.log(repr(result))
        return f"promoted {ctx.name} {ctx.version} from {ctx.index} to {target}"
    pushed = ctx.client.push(ctx.index, ctx.name, ctx.version, target, workdir=ctx.workdir)
    for name in pushed.copied:
        ctx.log(f"{name}: {ctx.index} -> {target}")
    for name in pushed.skipped:
        ctx.log(f"{name}: on {target} already")
    if not pushed.copied:
        return f"{ctx.name} {ctx.version} is on {target} already"
    return f"promoted {ctx.name} {ctx.version} from {ctx.index} to {target}"
