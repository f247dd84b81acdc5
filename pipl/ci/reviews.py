"""Reviews of releases: a user approves or rejects a release on a stage index, with a
comment, for the files the release has there at that moment.

One row per decision in the runner's CI database (``reviews``). An approval counts
(``valid_approvals``) while the release's files on that index are the ones it was given
for and its user has not rejected the release since: a release whose files changed needs
approving again. Who may decide is the operation's business (``pipl.api.service.reviews``);
the project's ``[reviews]`` table names extra reviewers::

    [reviews]
    reviewers = ["carol"]     # may approve and reject every release, besides its maintainers
    self_approval = false     # true: an uploader may approve their own release
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass
from typing import Any

from pipl import names
from pipl.errors import UsageError
from pipl.project.config import PiplToml, ReviewConfig
from pipl.project.project import Project

APPROVE, REJECT = "approve", "reject"
DECISIONS = (APPROVE, REJECT)
MAX_COMMENT = 2000  # characters

COLUMNS = "id, ix, project, version, user, decision, comment, files, at"


@dataclass(frozen=True)
class Review:
    """One decision: ``files`` maps each file name of the release on ``index`` to its
    sha256 when the decision was made."""

    id: int
    index: str
    project: str
    version: str
    user: str
    decision: str  # approve | reject
    comment: str
    files: dict[str, str]
    at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_decision(decision: str, comment: str) -> tuple[str, str]:
    """The decision and its comment (stripped), or a UsageError naming what is wrong."""
    if decision not in DECISIONS:
        raise UsageError(f"invalid decision {decision!r}: choose approve or reject")
    if not isinstance(comment, str):
        raise UsageError("the comment must be text")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise UsageError(f"the comment has {len(comment)} characters: at most {MAX_COMMENT}")
    if decision == REJECT and not comment:
        raise UsageError("a reject needs a comment: say what is wrong with the release")
    return decision, comment


def record(
    conn: sqlite3.Connection,
    *,
    index: str,
    project: str,
    version: str,
    user: str,
    decision: str,
    comment: str,
    files: dict[str, str],
) -> Review:
    """Record one decision on the release ``project version`` of ``index``."""
    names.check_index(index)
    names.check_user(user)
    decision, comment = check_decision(decision, comment)
    if not files:
        raise UsageError(f"{project} {version} has no files on {index}: nothing to review")
    key, now = names.normalize_dist(names.check_dist(project)), time.time()
    text = json.dumps(dict(sorted(files.items())))
    cur = conn.execute(
        "INSERT INTO reviews (ix, project, version, user, decision, comment, files, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (index, key, version, user, decision, comment, text, now),
    )
    return Review(int(cur.lastrowid or 0), index, key, version, user, decision, comment, files, now)


def decisions(conn: sqlite3.Connection, index: str, project: str, version: str) -> list[Review]:
    """Every decision on the release, oldest first."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM reviews WHERE ix = ? AND project = ? AND version = ? "  # noqa: S608 - constant columns
        "ORDER BY id",
        (index, names.normalize_dist(project), version),
    ).fetchall()
    return [_review(row) for row in rows]


def _review(row: tuple[Any, ...]) -> Review:
    rid, index, project, version, user, decision, comment, files, at = row
    return Review(rid, index, project, version, user, decision, comment, json.loads(files), at)


def valid_approvals(
    conn: sqlite3.Connection, index: str, project: str, version: str, files: dict[str, str]
) -> list[Review]:
    """The approvals that count for the release's current ``files``: given for exactly
    these files and not followed by a reject from the same user (the latest per user)."""
    return standing(decisions(conn, index, project, version), files, APPROVE)


def standing(reviews: list[Review], files: dict[str, str], decision: str) -> list[Review]:
    """Of ``reviews`` (oldest first), the ``decision``s that still stand for ``files``: an
    approval until its user rejects, a reject until its user approves, either only for
    the files it was made for; the latest per user."""
    kept: dict[str, Review] = {}
    for review in reviews:
        if review.decision != decision:
            kept.pop(review.user, None)
        elif review.files == files:
            kept[review.user] = review
    return sorted(kept.values(), key=lambda r: r.id)


def approvals_for(
    project: Project, index: str, name: str, version: str, files: dict[str, str]
) -> list[str]:
    """The users whose approval of ``name version`` on ``index`` counts for ``files``."""
    from pipl.ci import db

    with db.open_db(project.root) as conn:
        return [r.user for r in valid_approvals(conn, index, name, version, files)]


def load_config(project: Project) -> ReviewConfig:
    """The ``[reviews]`` table of the project's ``pipl.toml`` (defaults when absent)."""
    return PiplToml.of(project.root).reviews()
