"""What the API answers about reviews of a release (``client.releases.review`` and
``reviews``; carried out by ``pipl.api.service.reviews``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReleaseReview:
    """One approve or reject of a release on a stage, for the files it had then;
    ``valid``: it still counts for the release's current files."""

    id: int
    stage: str
    index: str
    project: str
    version: str
    user: str
    decision: str  # approve | reject
    comment: str
    files: dict[str, str]  # file name -> sha256 when decided
    at: float
    valid: bool


@dataclass(frozen=True)
class ReleaseReviews:
    """The decisions on a release on a stage, oldest first, with its current files and
    uploaders; ``approved_by``: the users whose approval counts now; ``may_approve`` and
    ``may_reject``: what the caller may do."""

    stage: str
    index: str
    project: str
    version: str
    files: dict[str, str]
    uploaders: list[str]
    reviews: list[ReleaseReview]
    approved_by: list[str]
    may_approve: bool
    may_reject: bool
