"""The releases operations of pipl's API as typed functions of a client, one each.

Written by ``make api`` (``pipl.api.codegen``) from the functions of ``pipl.api.service``
that carry the operations out: change those, not this file.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from pipl.api.lifecycle import Derived, Yank
from pipl.api.models import value_of
from pipl.api.ops import Route
from pipl.api.releases import (
    AllowedNames,
    Maintainers,
    Packl,
    Promotion,
    Release,
    ReleaseList,
    Stage,
    Uploaded,
)
from pipl.api.reviews import ReleaseReview, ReleaseReviews

if TYPE_CHECKING:
    from pipl.api.client.remote import Sender


RELEASES_STAGES = Route("releases.stages", "GET", "/api/v1/stages")


def releases_stages(client: Sender) -> builtins.list[Stage]:
    """The project's stages in promotion order, with their indexes, bases, handlers and how
    many releases each holds."""
    answer: builtins.list[Stage] = value_of(builtins.list[Stage], client.send(RELEASES_STAGES, {}))
    return answer


RELEASES_PACKLS = Route("releases.packls", "GET", "/api/v1/packls")


def releases_packls(client: Sender) -> builtins.list[Packl]:
    """Every packl on the stages, with its newest version on each stage that has it."""
    answer: builtins.list[Packl] = value_of(builtins.list[Packl], client.send(RELEASES_PACKLS, {}))
    return answer


RELEASES_LIST = Route("releases.list", "GET", "/api/v1/stages/{stage}/releases")


def releases_list(client: Sender, stage: str, offset: int = 0, limit: int = 50) -> ReleaseList:
    """A stage's releases, newest first, ``limit`` from ``offset``."""
    answer: ReleaseList = value_of(
        ReleaseList, client.send(RELEASES_LIST, {"stage": stage, "offset": offset, "limit": limit})
    )
    return answer


RELEASES_GET = Route("releases.get", "GET", "/api/v1/releases/{stage}/{project}/{version}")


def releases_get(client: Sender, stage: str, project: str, version: str) -> Release:
    """One release on ``stage``: files, QA results, CI jobs, requirements, provenance."""
    answer: Release = value_of(
        Release, client.send(RELEASES_GET, {"stage": stage, "project": project, "version": version})
    )
    return answer


RELEASES_MAINTAINERS = Route("releases.maintainers", "GET", "/api/v1/maintainers/{stage}/{project}")


def releases_maintainers(client: Sender, stage: str, project: str) -> Maintainers:
    """Who maintains ``project`` on ``stage``."""
    answer: Maintainers = value_of(
        Maintainers, client.send(RELEASES_MAINTAINERS, {"stage": stage, "project": project})
    )
    return answer


RELEASES_MAINTAINERS_CHANGE = Route(
    "releases.maintainers_change", "POST", "/api/v1/maintainers/{stage}/{project}"
)


def releases_maintainers_change(
    client: Sender,
    stage: str,
    project: str,
    add: builtins.list[str] | None = None,
    remove: builtins.list[str] | None = None,
) -> Maintainers:
    """Add and remove maintainers of ``project`` on ``stage``, as one of them: the
    caller's own devpi login changes the list, and the server allows maintainers only."""
    answer: Maintainers = value_of(
        Maintainers,
        client.send(
            RELEASES_MAINTAINERS_CHANGE,
            {"stage": stage, "project": project, "add": add, "remove": remove},
        ),
    )
    return answer


RELEASES_UPLOAD = Route("releases.upload", "POST", "/api/v1/upload")


def releases_upload(
    client: Sender, files: builtins.list[Any], stage: str | None = None, replace: bool = False
) -> builtins.list[Uploaded]:
    """Upload wheels and sdists to ``stage`` (default: the first), checked as ``pipl proj index
    upload`` checks them: all files before any is sent."""
    answer: builtins.list[Uploaded] = value_of(
        builtins.list[Uploaded],
        client.send(RELEASES_UPLOAD, {"files": files, "stage": stage, "replace": replace}),
    )
    return answer


RELEASES_PROMOTE = Route("releases.promote", "POST", "/api/v1/promote")


def releases_promote(
    client: Sender,
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
    answer: Promotion = value_of(
        Promotion,
        client.send(
            RELEASES_PROMOTE,
            {
                "project": project,
                "version": version,
                "to": to,
                "source": source,
                "with_deps": with_deps,
                "dry_run": dry_run,
                "skip_stage": skip_stage,
            },
        ),
    )
    return answer


RELEASES_PROMOTE_SET = Route("releases.promote_set", "POST", "/api/v1/promote-set")


def releases_promote_set(
    client: Sender, releases: builtins.list[Any], with_deps: bool = False
) -> builtins.list[Promotion]:
    """Promote several releases (``{project, version, to, source}`` each) as one: all of
    them, or none when one cannot be (``Client.transaction``)."""
    answer: builtins.list[Promotion] = value_of(
        builtins.list[Promotion],
        client.send(RELEASES_PROMOTE_SET, {"releases": releases, "with_deps": with_deps}),
    )
    return answer


RELEASES_REVIEW = Route("releases.review", "POST", "/api/v1/reviews/{stage}/{project}/{version}")


def releases_review(
    client: Sender, stage: str, project: str, version: str, decision: str, comment: str = ""
) -> ReleaseReview:
    """Approve or reject (``decision``, a reject with a ``comment``) ``project version`` on
    ``stage``, for the files it has there now."""
    answer: ReleaseReview = value_of(
        ReleaseReview,
        client.send(
            RELEASES_REVIEW,
            {
                "stage": stage,
                "project": project,
                "version": version,
                "decision": decision,
                "comment": comment,
            },
        ),
    )
    return answer


RELEASES_REVIEWS = Route("releases.reviews", "GET", "/api/v1/reviews/{stage}/{project}/{version}")


def releases_reviews(client: Sender, stage: str, project: str, version: str) -> ReleaseReviews:
    """The approvals and rejects of ``project version`` on ``stage``, each marked ``valid``
    while it counts for the release's current files."""
    answer: ReleaseReviews = value_of(
        ReleaseReviews,
        client.send(RELEASES_REVIEWS, {"stage": stage, "project": project, "version": version}),
    )
    return answer


RELEASES_YANK = Route("releases.yank", "POST", "/api/v1/yank")


def releases_yank(
    client: Sender, stage: str, project: str, version: str, yanked: bool = True, reason: str = ""
) -> Yank:
    """Yank ``project version`` on ``stage`` (``yanked=False``: restore it), as one of its
    maintainers there: pip and uv skip it unless it is pinned with ``==``.
    The caller's own devpi login yanks: the server allows the project's maintainers."""
    answer: Yank = value_of(
        Yank,
        client.send(
            RELEASES_YANK,
            {
                "stage": stage,
                "project": project,
                "version": version,
                "yanked": yanked,
                "reason": reason,
            },
        ),
    )
    return answer


RELEASES_DERIVED = Route("releases.derived", "GET", "/api/v1/derived/{project}/{version}")


def releases_derived(client: Sender, project: str, version: str) -> builtins.list[Derived]:
    """Every release made from ``project version``, transitively, nearest first."""
    answer: builtins.list[Derived] = value_of(
        builtins.list[Derived],
        client.send(RELEASES_DERIVED, {"project": project, "version": version}),
    )
    return answer


RELEASES_NAMES = Route("releases.names", "GET", "/api/v1/names")


def releases_names(client: Sender) -> AllowedNames:
    """The public names (on PyPI or the base index) the owner let past the first stage."""
    answer: AllowedNames = value_of(AllowedNames, client.send(RELEASES_NAMES, {}))
    return answer


RELEASES_NAMES_CHANGE = Route("releases.names_change", "POST", "/api/v1/names")


def releases_names_change(client: Sender, project: str, allowed: bool = True) -> AllowedNames:
    """The caller's own devpi login changes the list (the server allows the first stage's
    owner and root only); allowing queues again the promote jobs the name held."""
    answer: AllowedNames = value_of(
        AllowedNames, client.send(RELEASES_NAMES_CHANGE, {"project": project, "allowed": allowed})
    )
    return answer
