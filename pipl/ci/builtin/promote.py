"""``promote``: push a release that passed QA to the index named by ``pipl_promote_to``.

It runs once every job before it on the release here has passed (the runner cancels it
otherwise: on a stage, ``process`` runs before it), and only through the target stage's
gate (``pipl.ci.gates``): QA earned, a wheel, processing passed, approvals. A release that
lacks only approvals is held (the job passes, saying so) until a review approves it, which
promotes it then. The push skips files already on the target, so a rerun changes nothing.
"""

from __future__ import annotations

from pipl.ci.builtin.files import announce
from pipl.ci.handlers import BaseHandler, HandlerFailed, JobContext, NotYet
from pipl.ci.yanked import refuse_yanked


class PromoteHandler(BaseHandler):
    rank = 30
    needs_passed = True

    def run(self, ctx: JobContext) -> str:
        from pipl.ci import db
        from pipl.ci.gates import HELD, qa_state, unmet
        from pipl.names import normalize_dist

        refuse_yanked(ctx, "promoted")
        target = ctx.promote_to
        if not target:
            return f"{ctx.index} names no pipl_promote_to: nothing to promote"
        with db.open_db(ctx.project.root) as conn:
            if qa_state(conn, normalize_dist(ctx.name), ctx.version)[0] == "pending":
                raise NotYet(f"QA of {ctx.name} {ctx.version} is still running on another index")
            with ctx.phase("gates"):
                verdict = unmet(
                    ctx.project,
                    conn,
                    ctx.client,
                    ctx.name,
                    ctx.version,
                    source=ctx.index,
                    target=target,
                )
        if verdict.only_approvals:  # not a failure: it waits for a review
            return f"{HELD}{ctx.index}, not promoted to {target}: {verdict.line()}"
        if verdict:
            raise HandlerFailed(f"not promoted to {target}: {verdict.line()}")
        summary = _push(ctx, target)
        with ctx.phase("announce"):
            announce(ctx, target, ctx.name, ctx.version)
        return summary


def _push(ctx: JobContext, target: str) -> str:
    """The checked, all-or-nothing promotion: refused (the job fails, naming what is
    missing) when the release's requirements are not on the target's chain."""
    from pipl.index.promote import plan_promotion, promote

    with ctx.phase("plan"):
        plan = plan_promotion(
            ctx.client, ctx.project.name, ctx.name, ctx.version, source=ctx.index, target=target
        )
        waiting = _promoting(ctx, [m.requirement for m in plan.missing if m.available])
    if waiting:
        raise NotYet(f"waiting for {', '.join(waiting)} to reach {target} first")
    with ctx.phase("push"):
        result = promote(
            ctx.client, ctx.project.name, ctx.name, ctx.version, source=ctx.index, target=target
        )
    copied = [name for pushed in result.pushed for name in pushed.copied]
    for pushed in result.pushed:
        for name in pushed.copied:
            ctx.log(f"{name}: {pushed.source} -> {target}")
        for name in pushed.skipped:
            ctx.log(f"{name}: on {target} already")
    if not copied:
        return f"{ctx.name} {ctx.version} is on {target} already"
    return f"promoted {ctx.name} {ctx.version} from {ctx.index} to {target}"


def _promoting(ctx: JobContext, requirements: list[str]) -> list[str]:
    """Those of ``requirements`` whose own CI (QA or promotion) is still under way: the
    release waits for them rather than failing."""
    from packaging.requirements import InvalidRequirement, Requirement

    from pipl.ci import db
    from pipl.names import normalize_dist

    busy = []
    with db.open_db(ctx.project.root) as conn:
        for text in requirements:
            try:
                name = normalize_dist(Requirement(text).name)
            except InvalidRequirement:
                continue
            row = conn.execute(
                "SELECT 1 FROM jobs WHERE project = ? AND handler IN ('qa', 'promote') "
                "AND state IN ('queued', 'running') AND NOT (ix = ? AND handler = 'promote' "
                "AND project = ?)",
                (name, ctx.index, normalize_dist(ctx.name)),
            ).fetchone()
            if row is not None:
                busy.append(text)
    return busy
