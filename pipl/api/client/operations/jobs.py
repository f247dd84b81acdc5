"""The jobs operations of pipl's API as typed functions of a client, one each.

Written by ``make api`` (``pipl.api.codegen``) from the functions of ``pipl.api.service``
that carry the operations out: change those, not this file.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from pipl.api.jobs import Job, LogChunk, Triggered
from pipl.api.models import value_of
from pipl.api.ops import Route

if TYPE_CHECKING:
    from pipl.api.client.remote import Sender


JOBS_LIST = Route("jobs.list", "GET", "/api/v1/jobs")


def jobs_list(
    client: Sender,
    state: builtins.list[str] | None = None,
    packl: str | None = None,
    index: str | None = None,
    handler: str | None = None,
    limit: int = 50,
    before: int | None = None,
    after: int | None = None,
) -> builtins.list[Job]:
    """Jobs newest first (``before``/``after`` a job id: the page older/newer than it)."""
    answer: builtins.list[Job] = value_of(
        builtins.list[Job],
        client.send(
            JOBS_LIST,
            {
                "state": state,
                "packl": packl,
                "index": index,
                "handler": handler,
                "limit": limit,
                "before": before,
                "after": after,
            },
        ),
    )
    return answer


JOBS_COUNTS = Route("jobs.counts", "GET", "/api/v1/jobs/counts")


def jobs_counts(
    client: Sender, packl: str | None = None, index: str | None = None, handler: str | None = None
) -> dict[str, int]:
    """How many jobs the caller may see are in each state (among those matching the
    filters)."""
    answer: dict[str, int] = value_of(
        dict[str, int],
        client.send(JOBS_COUNTS, {"packl": packl, "index": index, "handler": handler}),
    )
    return answer


JOBS_GET = Route("jobs.get", "GET", "/api/v1/jobs/{id}")


def jobs_get(client: Sender, id: int) -> Job:
    """One CI job, with its release, state, times and message."""
    answer: Job = value_of(Job, client.send(JOBS_GET, {"id": id}))
    return answer


JOBS_LOG = Route("jobs.log", "GET", "/api/v1/jobs/{id}/log")


def jobs_log(client: Sender, id: int, offset: int = 0, limit: int = 65536) -> LogChunk:
    """One read of a job's log from byte ``offset``: at most ``limit`` bytes (64 KiB)."""
    answer: LogChunk = value_of(
        LogChunk, client.send(JOBS_LOG, {"id": id, "offset": offset, "limit": limit})
    )
    return answer


JOBS_RETRY = Route("jobs.retry", "POST", "/api/v1/jobs/{id}/retry")


def jobs_retry(client: Sender, id: int) -> Job:
    """Queue a failed or cancelled job again."""
    answer: Job = value_of(Job, client.send(JOBS_RETRY, {"id": id}))
    return answer


JOBS_CANCEL = Route("jobs.cancel", "POST", "/api/v1/jobs/{id}/cancel")


def jobs_cancel(client: Sender, id: int) -> Job:
    """Cancel a queued or running job (the runner stops a running one)."""
    answer: Job = value_of(Job, client.send(JOBS_CANCEL, {"id": id}))
    return answer


JOBS_TRIGGERED = Route("jobs.triggered", "GET", "/api/v1/jobs/triggered")


def jobs_triggered(client: Sender, project: str, version: str) -> Triggered:
    """The jobs the upload of ``project version`` set going, following promotions to later
    stages and the products its processing published; ``finished`` once all ended."""
    answer: Triggered = value_of(
        Triggered, client.send(JOBS_TRIGGERED, {"project": project, "version": version})
    )
    return answer
