"""Public names let past the first stage: listed for anyone who may read it, allowed or
disallowed by the owner or root through the server (``pipl.devpi_names``), which keeps
them in the first stage's devpi config."""

from __future__ import annotations

import sqlite3

from pipl import names
from pipl.api.ops import operation
from pipl.api.releases import AllowedNames
from pipl.api.service import Context
from pipl.api.service.stages import short_stage

HELD_BY_NAME = "was not first published here"  # in the message of a promote job it held


@operation("releases.names", "GET", "/names", summary="public names allowed past the first stage")
def list_names(ctx: Context) -> AllowedNames:
    """The public names (on PyPI or the base index) the owner let past the first stage."""
    from pipl.index.allowed_names import get_allowed

    index = ctx.project.stage_index()
    found = get_allowed(ctx.index, index)
    return AllowedNames(short_stage(ctx, index), index, found.names)


@operation("releases.names_change", "POST", "/names", "owner", "allowing or disallowing a name")
def change_names(ctx: Context, project: str, allowed: bool = True) -> AllowedNames:
    """The caller's own devpi login changes the list (the server allows the first stage's
    owner and root only); allowing queues again the promote jobs the name held."""
    from pipl.index.allowed_names import change_allowed

    index = ctx.project.stage_index()
    key = names.normalize_dist(names.check_dist(project))
    found = change_allowed(ctx.index, index, key, allowed=allowed)
    retried = retry_held(ctx.ci, index, key) if allowed else []
    return AllowedNames(short_stage(ctx, index), index, found.names, retried)


def retry_held(conn: sqlite3.Connection, index: str, project: str) -> list[int]:
    """Queue again the promote jobs on ``index`` that failed because ``project`` was not
    first published here, so they ask the gate again; their ids."""
    rows = conn.execute(
        "SELECT id FROM jobs WHERE handler = 'promote' AND ix = ? AND project = ? "
        "AND state = 'failed' AND message LIKE ?",
        (index, project, f"%{HELD_BY_NAME}%"),
    ).fetchall()
    for (job_id,) in rows:
        conn.execute(
            "UPDATE jobs SET state = 'queued', not_before = 0, attempts = 0, started = NULL, "
            "finished = NULL, message = ? WHERE id = ? AND state = 'failed'",
            (f"the owner allowed {project}: asks the gate again", job_id),
        )
    return [int(job_id) for (job_id,) in rows]
