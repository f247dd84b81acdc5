"""CI jobs: list, get, logs (following a running job), retry, cancel, wait."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipl.api.models import build, build_list
from pipl.api.ops import declare
from pipl.errors import WaitTimeout as WaitTimeout  # where it was first defined

if TYPE_CHECKING:
    from pipl.api.client import Client

declare("jobs.list", "GET", "/jobs", summary="list CI jobs")
declare("jobs.counts", "GET", "/jobs/counts", summary="count CI jobs by state")
declare("jobs.triggered", "GET", "/jobs/triggered", summary="what an upload set going")
declare("jobs.get", "GET", "/jobs/{id}", summary="show a CI job")
declare("jobs.log", "GET", "/jobs/{id}/log", summary="read a CI job's log")
declare("jobs.retry", "POST", "/jobs/{id}/retry", "owner", summary="retry a CI job")
declare("jobs.cancel", "POST", "/jobs/{id}/cancel", "owner", summary="cancel a CI job")


STATES = ("queued", "running", "passed", "failed", "cancelled")
DONE = ("passed", "failed", "cancelled")


@dataclass(frozen=True)
class Job:
    """One CI job: ``handler`` run for release ``project version`` on ``index``."""

    id: int
    handler: str
    index: str
    project: str
    version: str
    filename: str
    sha256: str
    state: str  # queued, running, passed, failed, cancelled
    attempts: int
    created: float
    started: float | None
    finished: float | None
    seconds: float | None  # how long it ran (so far, while running)
    message: str
    key: str = ""
    rank: int = 0
    reason: str = ""  # why a re-processing runs (pipl.ci.downstream), else ""

    @property
    def release(self) -> str:
        return f"{self.project} {self.version}"

    @property
    def done(self) -> bool:
        return self.state in DONE


@dataclass(frozen=True)
class LogChunk:
    """Part of a job's log: read on from ``offset``; ``done`` once the job has ended and
    the whole log was read."""

    text: str
    offset: int
    done: bool
    state: str
    size: int = 0  # the log's size in bytes when read


@dataclass(frozen=True)
class Reached:
    """A release on an index: the upload's, or one a job put there (``by_job``)."""

    index: str
    project: str
    version: str
    by_job: int | None = None


@dataclass(frozen=True)
class Triggered:
    """What the upload of ``project version`` set going: every job (promotions to later
    stages and the products' jobs included) and the releases they reached."""

    project: str
    version: str
    jobs: list[Job] = field(default_factory=list)
    releases: list[Reached] = field(default_factory=list)
    pending: int = 0  # files whose jobs are not queued yet
    finished: bool = False

    @property
    def ok(self) -> bool:
        """Every job passed."""
        return self.finished and all(j.state == "passed" for j in self.jobs)

    @property
    def states(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for job in self.jobs:
            result[job.state] = result.get(job.state, 0) + 1
        return result


class JobsApi:
    """``client.jobs``: the CI jobs of the project."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(
        self,
        state: str | list[str] | None = None,
        *,
        packl: str | None = None,
        index: str | None = None,
        handler: str | None = None,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
    ) -> list[Job]:
        """Jobs newest first, at most ``limit``; ``before``/``after`` a job id give the
        older/newer page. ``state`` may be several states; ``index`` is ``user/name`` or a
        stage's name."""
        states = [state] if isinstance(state, str) else state
        data = self._client._call(
            "jobs.list",
            state=states,
            packl=packl,
            index=index,
            handler=handler,
            limit=limit,
            before=before,
            after=after,
        )
        return build_list(Job, data)

    def counts(
        self, *, packl: str | None = None, index: str | None = None, handler: str | None = None
    ) -> dict[str, int]:
        """How many jobs are in each state (among those matching the filters)."""
        return dict(self._client._call("jobs.counts", packl=packl, index=index, handler=handler))

    def get(self, job_id: int) -> Job:
        return build(Job, self._client._call("jobs.get", id=job_id))

    def log(self, job_id: int, offset: int = 0) -> LogChunk:
        """One read of a job's log from byte ``offset`` (a bounded chunk)."""
        return build(LogChunk, self._client._call("jobs.log", id=job_id, offset=offset))

    def logs(
        self, job_id: int, *, follow: bool = False, poll: float = 0.5, offset: int = 0
    ) -> Iterator[str]:
        """The job's log as text chunks; with ``follow``, on until the job ends."""
        while True:
            chunk = self.log(job_id, offset)
            if chunk.text:
                yield chunk.text
            offset = chunk.offset
            if chunk.done:
                return
            if offset < chunk.size and chunk.text:
                continue  # more is there already
            if not follow:
                return
            time.sleep(poll)

    def retry(self, job_id: int) -> Job:
        """Queue a failed or cancelled job again (the owner only)."""
        return build(Job, self._client._call("jobs.retry", id=job_id))

    def cancel(self, job_id: int) -> Job:
        """Cancel a queued or running job (the owner only)."""
        return build(Job, self._client._call("jobs.cancel", id=job_id))

    def triggered(self, project: str, version: str) -> Triggered:
        """What the upload of ``project version`` has set going so far."""
        return build(
            Triggered, self._client._call("jobs.triggered", project=project, version=version)
        )

    def wait(
        self, project: str, version: str, *, timeout: float = 600.0, poll: float = 0.5
    ) -> Triggered:
        """Return once every job the upload of ``project version`` set going has ended,
        promotions and the products' jobs included (``client.wait``)."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while True:
            now = time.monotonic()
            seen = self.triggered(project, version)
            if not seen.finished:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= QUIET:
                return seen
            if now > deadline:
                busy = [j for j in seen.jobs if not j.done]
                what = ", ".join(f"job {j.id} {j.handler} {j.state}" for j in busy[:3])
                raise WaitTimeout(
                    f"{project} {version}: {len(busy) + seen.pending} CI job(s) not finished "
                    f"after {timeout:.0f}s ({what or 'jobs not queued yet'}): is the runner "
                    "running ('pipl proj status')?"
                )
            time.sleep(poll)


QUIET = 1.5  # seconds all must stay finished: files in flight become jobs within this
