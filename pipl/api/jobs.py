"""What the API answers about CI jobs (``client.jobs``; carried out by
``pipl.api.service.jobs``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipl.errors import WaitTimeout as WaitTimeout  # where it was first defined

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
