"""Operations on CI jobs: list, counts, get, log, retry, cancel, and what an upload set
going (``client.wait``). Everything a caller sees of a job is derived from an index, so a
job shows only to whoever may read its index."""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from pipl import names
from pipl.api.jobs import Job, LogChunk, Reached, Triggered
from pipl.api.ops import operation
from pipl.api.service import Context
from pipl.ci import db, follow
from pipl.errors import AuthError, NotFound, UsageError

MAX_LIMIT = 500


def to_api(job: db.Job) -> Job:
    return Job(
        id=job.id,
        handler=job.handler,
        index=job.index,
        project=job.project,
        version=job.version,
        filename=job.filename,
        sha256=job.sha256,
        state=job.state,
        attempts=job.attempts,
        created=job.created,
        started=job.started,
        finished=job.finished,
        seconds=job.seconds,
        message=job.message,
        key=job.key,
        rank=job.rank,
        reason=job.reason,
    )


def readable_indexes(ctx: Context) -> list[str] | None:
    """The indexes with jobs that the caller may read; None when that is all of them.
    The owner and root see every job (those of indexes deleted since too) without asking
    devpi: the API lets the owner act as root already (``users.*``), who reads any index;
    so the owner sees the jobs on this machine while the server is stopped too."""
    if ctx.is_owner:
        return None
    found = []
    every = db.job_indexes(ctx.ci)
    for index in every:
        try:
            ctx.require_read(index)
        except (AuthError, NotFound):
            continue
        found.append(index)
    return None if found == every else found


def _filters(
    ctx: Context, packl: str | None, index: str | None, handler: str | None
) -> dict[str, str | None]:
    """The jobs' filters, checked: a packl name, an index (``user/name`` or a stage's
    name), a handler name."""
    result: dict[str, str | None] = {"project": None, "index": None, "handler": None}
    if packl:
        result["project"] = names.normalize_dist(names.check_dist(packl, "packl"))
    if index:
        result["index"] = names.check_index(
            index if "/" in index else f"{ctx.project.owner}/{names.check_simple(index, 'stage')}"
        )
    if handler:
        result["handler"] = names.check_simple(handler, "handler")
    return result


@operation("jobs.list", "GET", "/jobs", summary="list CI jobs")
def list_jobs(
    ctx: Context,
    state: list[str] | None = None,
    packl: str | None = None,
    index: str | None = None,
    handler: str | None = None,
    limit: int = 50,
    before: int | None = None,
    after: int | None = None,
) -> list[Job]:
    """Jobs newest first (``before``/``after`` a job id: the page older/newer than it)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit must be from 1 to {MAX_LIMIT}, not {limit}")
    jobs = db.list_jobs(
        ctx.ci,
        state=state,
        **_filters(ctx, packl, index, handler),
        indexes=readable_indexes(ctx),
        before=before,
        after=after,
        limit=limit,
        newest_first=True,
    )
    return [to_api(j) for j in jobs]


@operation("jobs.counts", "GET", "/jobs/counts", summary="count CI jobs by state")
def counts(
    ctx: Context, packl: str | None = None, index: str | None = None, handler: str | None = None
) -> dict[str, int]:
    """How many jobs the caller may see are in each state (among those matching the
    filters)."""
    return db.counts(ctx.ci, **_filters(ctx, packl, index, handler), indexes=readable_indexes(ctx))


def _job(ctx: Context, job_id: int) -> db.Job:
    try:
        job = db.get_job(ctx.ci, job_id)
    except UsageError:
        raise NotFound(f"no CI job {job_id}: see the jobs list") from None
    if not ctx.is_owner:  # the owner sees every job (readable_indexes)
        ctx.require_read(job.index)
    return job


@operation("jobs.get", "GET", "/jobs/{id}", summary="show a CI job")
def get(ctx: Context, id: int) -> Job:
    """One CI job, with its release, state, times and message."""
    return to_api(_job(ctx, id))


@operation("jobs.log", "GET", "/jobs/{id}/log", summary="read a CI job's log")
def log(ctx: Context, id: int, offset: int = 0, limit: int = follow.LOG_CHUNK) -> LogChunk:
    """One read of a job's log from byte ``offset``: at most ``limit`` bytes (64 KiB)."""
    from pipl.ci.runner import log_path

    _job(ctx, id)
    part = follow.read_log(ctx.ci, log_path(ctx.project, id), id, offset, limit)
    return LogChunk(part.text, part.offset, part.done, part.state, part.size)


@operation("jobs.retry", "POST", "/jobs/{id}/retry", "owner", summary="retry a CI job")
def retry(ctx: Context, id: int) -> Job:
    """Queue a failed or cancelled job again."""
    _job(ctx, id)
    return to_api(db.retry(ctx.ci, id))


@operation("jobs.cancel", "POST", "/jobs/{id}/cancel", "owner", summary="cancel a CI job")
def cancel(ctx: Context, id: int) -> Job:
    """Cancel a queued or running job (the runner stops a running one)."""
    _job(ctx, id)
    return to_api(db.cancel(ctx.ci, id))


@operation("jobs.triggered", "GET", "/jobs/triggered", summary="what an upload set going")
def triggered(ctx: Context, project: str, version: str) -> Triggered:
    """The jobs the upload of ``project version`` set going, following promotions to later
    stages and the products its processing published; ``finished`` once all ended."""
    names.check_dist(project, "packl")
    try:
        Version(version)
    except InvalidVersion:
        raise UsageError(f"invalid version {version!r} of {project}") from None
    seen = follow.triggered(ctx.ci, project, version)
    if not seen.jobs and not seen.pending and not _published(ctx, project, version):
        raise NotFound(
            f"there is no release {project} {version} on the stages of project "
            f"{ctx.project.name!r}: publish it first, or check the name and version"
        )
    jobs = [to_api(j) for j in seen.jobs if _may_read(ctx, j.index)]
    releases = [
        Reached(r.index, r.project, r.version, r.by_job)
        for r in seen.releases
        if _may_read(ctx, r.index)
    ]
    return Triggered(seen.project, seen.version, jobs, releases, seen.pending, seen.finished)


def _published(ctx: Context, project: str, version: str) -> bool:
    """Whether the first stage (and so any stage: it inherits the later ones) has it."""
    wanted = Version(version)
    return any(_same(v, wanted) for v in ctx.index.versions(ctx.project.stage_index(), project))


def _same(text: str, wanted: Version) -> bool:
    try:
        return Version(text) == wanted
    except InvalidVersion:
        return False


def _may_read(ctx: Context, index: str) -> bool:
    try:
        ctx.require_read(index)
    except (AuthError, NotFound):
        return False
    return True
