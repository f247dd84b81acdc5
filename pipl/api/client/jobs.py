"""``client.jobs``: the CI jobs of the project."""

from __future__ import annotations

import time
from collections.abc import Iterator

from pipl.api.client import operations as op
from pipl.api.client.remote import Domain, remote
from pipl.api.jobs import Job, Triggered
from pipl.errors import WaitTimeout

QUIET = 1.5  # seconds all must stay finished: files in flight become jobs within this


class JobsApi(Domain):
    """``client.jobs``: the CI jobs of the project."""

    counts = remote(op.jobs_counts)
    get = remote(op.jobs_get)
    log = remote(op.jobs_log)
    retry = remote(op.jobs_retry)
    cancel = remote(op.jobs_cancel)
    triggered = remote(op.jobs_triggered)

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
        return op.jobs_list(
            self._client,
            state=states,
            packl=packl,
            index=index,
            handler=handler,
            limit=limit,
            before=before,
            after=after,
        )

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
