"""A release page's reviews: its approvals and rejects (``releases.reviews``) and the
form that approves or rejects it with a comment (``releases.review``), as the visitor."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from webob import Response

from pipl.api.releases import Release
from pipl.errors import PiplError, http_status
from pipl.web.auth import check_csrf
from pipl.web.pages import Page, page


def review_panel(p: Page, release: Release) -> dict[str, Any]:
    """What the release template's reviews block shows: ``reviews`` (None when they
    could not be read, with the reason in ``reviews_error``)."""
    try:
        found = p.call(
            "releases.reviews",
            stage=release.stage,
            project=release.project,
            version=release.version,
        )
    except PiplError as exc:
        return {"reviews": None, "reviews_error": str(exc)}
    return {"reviews": found, "reviews_error": ""}


@page("POST", "/releases/{stage}/{project}/{version}/review")
def review(p: Page, stage: str, project: str, version: str) -> Response:
    """Approve or reject the release with the form's ``decision`` and ``comment``."""
    from pipl.web.pages.releases import _release

    check_csrf(p.request)
    form = p.request.POST
    try:
        done = p.call(
            "releases.review",
            stage=stage,
            project=project,
            version=version,
            decision=str(form.get("decision", "")),
            comment=str(form.get("comment", "")),
        )
    except PiplError as exc:
        return _release(p, stage, project, version, status=http_status(exc), error=str(exc))
    verb = "approved" if done.decision == "approve" else "rejected"
    here = f"/releases/{quote(stage)}/{quote(project)}/{quote(version)}"
    note = f"{done.user} {verb} {done.project} {done.version}"
    return p.redirect(here + "?" + urlencode({"changed": note}) + "#reviews")
