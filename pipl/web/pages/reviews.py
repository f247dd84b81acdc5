"""The form of a release page that approves or rejects the release with a comment
(``releases.review``), as the visitor; the page shows the reviews (``review_panel`` in
``pipl.web.pages.releases``)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from webob import Response

from pipl.errors import PiplError, http_status
from pipl.web.auth import check_csrf
from pipl.web.pages import Page, page
from pipl.web.pages.releases import release_page


@page("POST", "/releases/{stage}/{project}/{version}/review")
def review(p: Page, stage: str, project: str, version: str) -> Response:
    """Approve or reject the release with the form's ``decision`` and ``comment``."""
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
        return release_page(p, stage, project, version, status=http_status(exc), error=str(exc))
    verb = "approved" if done.decision == "approve" else "rejected"
    here = f"/releases/{quote(stage)}/{quote(project)}/{quote(version)}"
    note = f"{done.user} {verb} {done.project} {done.version}"
    return p.redirect(here + "?" + urlencode({"changed": note}) + "#reviews")
