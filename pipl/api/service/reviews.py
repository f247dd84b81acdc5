"""Approving and rejecting a release on a stage (``releases.review``) and listing the
decisions (``releases.reviews``), with their rules:

- only a logged-in user decides, and only for a release the caller may read;
- the release's maintainers on the stage (its owner and root included) and the users
  ``[reviews] reviewers`` names may approve and reject;
- whoever uploaded a file of the release (devpi's file log; what the project's CI user
  built counts for nobody) may not approve it, unless ``[reviews] self_approval``;
- a reject needs a comment.

Decisions are kept by ``pipl.ci.reviews`` with the release's files on the stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipl.api.ops import operation
from pipl.api.reviews import ReleaseReview, ReleaseReviews
from pipl.api.service import Context
from pipl.api.service.stages import own_links, release_name, short_stage, stage_index
from pipl.ci import reviews as store
from pipl.errors import AuthError, Forbidden, NotFound


@dataclass(frozen=True)
class Subject:
    """A release on a stage index as a review sees it."""

    index: str
    project: str
    version: str
    files: dict[str, str]  # file name -> sha256, the files stored on the index itself
    uploaders: list[str]


def subject(ctx: Context, stage: str, project: str, version: str) -> Subject:
    """The release ``project version`` on ``stage``, read from devpi as the caller."""
    from pipl.ci.config import ci_user

    index = stage_index(ctx, stage)
    key, version = release_name(project, version)
    data = own_links(ctx.index.version_data(index, key, version), index)
    links = [lk for lk in data.get("+links") or [] if lk.get("rel") == "releasefile"]
    if not links:
        raise NotFound(
            f"no release {key} {version} on stage {short_stage(ctx, index)}: see its releases "
            "at /stages",
        )
    files = {_basename(lk): str((lk.get("hashes") or {}).get("sha256", "")) for lk in links}
    robot = ci_user(ctx.project)
    uploaders = {
        str(entry["who"])
        for lk in links
        for entry in lk.get("log") or []
        if isinstance(entry, dict) and entry.get("what") == "upload" and entry.get("who")
    }
    return Subject(index, key, version, files, sorted(uploaders - {robot}))


def _basename(link: dict[str, Any]) -> str:
    return str(link.get("href", "")).split("#", 1)[0].rsplit("/", 1)[-1]


def reviewers(ctx: Context, release: Subject) -> set[str]:
    """Who may approve or reject the release: its maintainers on the stage (the stage's
    owner and root included) and the project's named reviewers (read once a request)."""
    from pipl.index.maintainers import get_maintainers

    key = f"reviews.reviewers:{release.index}:{release.project}"
    if key not in ctx.memo:
        found = get_maintainers(ctx.index, release.index, release.project)
        config = store.load_config(ctx.project)
        ctx.memo[key] = {*found.maintainers, *found.implicit, *config.reviewers}
    return set(ctx.memo[key])


def refusal(ctx: Context, release: Subject, decision: str) -> str:
    """Why the caller may not make ``decision`` on the release ("" when they may)."""
    user = ctx.caller.user
    what = f"{release.project} {release.version} on {release.index}"
    if user is None:
        return f"reviewing {what} needs a logged-in user: log in first"
    allowed = reviewers(ctx, release)
    if user not in allowed:
        return (
            f"{user} may not {decision} {what}: its reviewers are {', '.join(sorted(allowed))} "
            "(its maintainers, the stage's owner, root and the [reviews] reviewers of pipl.toml)"
        )
    self_approval = store.load_config(ctx.project).self_approval
    if decision == store.APPROVE and user in release.uploaders and not self_approval:
        return (
            f"{user} uploaded {what} and may not approve it: another of its reviewers approves it"
        )
    return ""


@operation(
    "releases.review",
    "POST",
    "/reviews/{stage}/{project}/{version}",
    "user",
    "approving or rejecting a release",
)
def review(
    ctx: Context, stage: str, project: str, version: str, decision: str, comment: str = ""
) -> ReleaseReview:
    """Approve or reject (``decision``, a reject with a ``comment``) ``project version`` on
    ``stage``, for the files it has there now."""
    decision, comment = store.check_decision(decision, comment)
    release = subject(ctx, stage, project, version)
    refused = refusal(ctx, release, decision)
    if refused:
        raise AuthError(refused) if ctx.caller.user is None else Forbidden(refused)
    assert ctx.caller.user is not None  # refusal() refuses anonymous callers
    done = store.record(
        ctx.ci,
        index=release.index,
        project=release.project,
        version=release.version,
        user=ctx.caller.user,
        decision=decision,
        comment=comment,
        files=release.files,
    )
    if decision == "approve":  # held promote jobs ask the stage's gate again
        from pipl.ci.gates import wake_held

        wake_held(ctx.ci, release.index, release.project, release.version)
    return _entry(ctx, done, {done.id})


@operation(
    "releases.reviews",
    "GET",
    "/reviews/{stage}/{project}/{version}",
    summary="the approvals and rejects of a release",
)
def list_reviews(ctx: Context, stage: str, project: str, version: str) -> ReleaseReviews:
    """The approvals and rejects of ``project version`` on ``stage``, each marked ``valid``
    while it counts for the release's current files."""
    release = subject(ctx, stage, project, version)
    found = store.decisions(ctx.ci, release.index, release.project, release.version)
    approvals = store.standing(found, release.files, store.APPROVE)
    valid = {r.id for r in approvals + store.standing(found, release.files, store.REJECT)}
    return ReleaseReviews(
        stage=short_stage(ctx, release.index),
        index=release.index,
        project=release.project,
        version=release.version,
        files=release.files,
        uploaders=release.uploaders,
        reviews=[_entry(ctx, r, valid) for r in found],
        approved_by=[r.user for r in approvals],
        may_approve=not refusal(ctx, release, store.APPROVE),
        may_reject=not refusal(ctx, release, store.REJECT),
    )


def _entry(ctx: Context, review: store.Review, valid: set[int]) -> ReleaseReview:
    return ReleaseReview(
        id=review.id,
        stage=short_stage(ctx, review.index),
        index=review.index,
        project=review.project,
        version=review.version,
        user=review.user,
        decision=review.decision,
        comment=review.comment,
        files=review.files,
        at=review.at,
        valid=review.id in valid,
    )
