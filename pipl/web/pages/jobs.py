"""CI jobs: the queue (counts by state, running, queued, recent finished, with filters and
pages) and one job (its facts, retry and cancel for the owner, the log followed live)."""

from __future__ import annotations

from webob import Response

from pipl.web.auth import check_csrf
from pipl.web.pages import Page, page

PAGE_SIZE = 50
QUEUED_SHOWN = 20
FINISHED = ["passed", "failed", "cancelled"]
STATES = ["queued", "running", *FINISHED]


def _query(p: Page) -> dict[str, str]:
    """The filters of the queue page's URL that are set."""
    keys = ("state", "handler", "packl", "index")
    return {k: v for k in keys if (v := p.request.GET.get(k, "").strip())}


@page("GET", "/jobs")
def queue(p: Page) -> Response:
    filters = _query(p)
    state = filters.get("state")
    common = {k: filters.get(k) for k in ("handler", "packl", "index")}
    cursor = {k: p.request.GET[k] for k in ("before", "after") if p.request.GET.get(k)}
    counts = p.call("jobs.counts", **common)
    running, queued = [], []
    if state:
        listed = p.call("jobs.list", state=[state], limit=PAGE_SIZE, **common, **cursor)
    else:
        running = p.call("jobs.list", state=["running"], limit=PAGE_SIZE, **common)
        # the next to run first: the oldest queued jobs
        queued = p.call("jobs.list", state=["queued"], limit=QUEUED_SHOWN, after=0, **common)
        queued.reverse()
        listed = p.call("jobs.list", state=FINISHED, limit=PAGE_SIZE, **common, **cursor)
    pages = {
        "older": listed[-1].id if len(listed) == PAGE_SIZE else None,
        "newer": listed[0].id if listed and cursor else None,
    }
    return p.render(
        "jobs/queue.html",
        counts=counts,
        filters=filters,
        states=STATES,
        running=running,
        queued=queued,
        listed=listed,
        pages=pages,
    )


def _release_link(p: Page, index: str, project: str, version: str) -> str | None:
    """The release page of a job's release, when its index is one of the project's stages."""
    owner, _, stage = index.partition("/")
    if owner != p.ctx.project.owner or stage not in p.ctx.project.config.stages:
        return None
    return f"/releases/{stage}/{project}/{version}"


@page("GET", "/jobs/{id}")
def job(p: Page, id: str) -> Response:
    found = p.call("jobs.get", id=id)
    log = p.call("jobs.log", id=id, offset=0)
    return p.render(
        "jobs/job.html",
        job=found,
        log=log,
        release=_release_link(p, found.index, found.project, found.version),
    )


@page("POST", "/jobs/{id}/retry")
def retry(p: Page, id: str) -> Response:
    check_csrf(p.request)
    done = p.call("jobs.retry", id=id)
    return p.redirect(f"/jobs/{done.id}")


@page("POST", "/jobs/{id}/cancel")
def cancel(p: Page, id: str) -> Response:
    check_csrf(p.request)
    done = p.call("jobs.cancel", id=id)
    return p.redirect(f"/jobs/{done.id}")
