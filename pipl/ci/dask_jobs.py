"""The runner's side of a job whose build part runs on a Dask worker (``pipl.ci.dask``).

With ``[ci] executor = "dask"``, a job of a handler with a worker part runs in two places
at once:

- the runner starts the job's *deliver* process on its own host right away (forked by
  the prefork process, with the CI user's token, as any job): it loads the project, makes
  its client and then waits for ``handback.json`` in its folder, so its start-up happens
  while the worker builds instead of after;
- ``DaskBuild`` sends the build part to a worker that has the resources asked for and
  waits for its answer; the files it sent back are checked and written into the job's
  work folder, ``handback.json`` last: the deliver process goes on, checks them again and
  uploads them.

A build that failed, timed out, was cancelled or that the cluster lost ends the job as the
build did; the runner then stops the waiting deliver process, which read nothing.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipl.ci import dask, db, handback
from pipl.ci.handlers import CiError
from pipl.ci.job import EXIT_PASSED
from pipl.ci.outcome import Outcome, note, outcome_of
from pipl.ci.spec import JobSpec

POLL = 0.05  # seconds between two looks at a job the runner may have to stop


def resources_for(
    handler_name: str, handler: object, configured: dict[str, dict[str, float]]
) -> dict[str, float]:
    """The worker resources a handler's jobs ask for: ``[ci.resources]``, else the
    handler's ``resources`` attribute, else none."""
    asked = configured.get(handler_name)
    if asked is None:
        asked = dict(getattr(handler, "resources", None) or {})
    return asked


class DaskBuild:
    """One job's build part on the cluster, seen from the runner. ``end(outcome)`` records
    how the job ended (the runner's retry rules) and returns what it recorded."""

    def __init__(
        self,
        dispatch: dask.DaskDispatch,
        job: db.Job,
        conn: sqlite3.Connection,
        log: Path,
        stopping: threading.Event,
        timeout: float,
        end: Callable[[Outcome], Outcome],
    ) -> None:
        self.dispatch, self.job, self.conn, self.log = dispatch, job, conn, log
        self.stopping, self.timeout, self.end = stopping, timeout, end

    def send(self, spec: JobSpec, resources: dict[str, float], deadline: float) -> None:
        """Send the build part to a worker with ``resources`` (before the runner starts
        the deliver process: the worker starts meanwhile)."""
        self.spec, self.deadline = replace(spec, resources=resources), deadline
        self.future = self.dispatch.submit(
            self.spec, max(1.0, deadline - time.monotonic()), resources
        )

    def run(self, folder: Path) -> Outcome | None:
        """Wait for the build sent; ``None`` when it passed and its files are in the job's
        folder for the deliver part, else how the job ended (recorded)."""
        answer = self.answer()
        result = answer.get("result") if isinstance(answer, dict) else None
        if result and result.get("state") == "resources":  # the packl asks for more
            asked = {str(k): float(v) for k, v in (result.get("resources") or {}).items()}
            note(self.log, f"sent again, asking for {asked}")
            self.send(self.spec, asked, self.deadline)
            answer = self.answer()
        if isinstance(answer, Outcome):
            return answer
        code, result = answer.get("code"), answer.get("result")
        if code is None:
            message = f"timed out after {self.timeout:.0f}s on a Dask worker"
            return self.end(Outcome(db.FAILED, message))
        if code != EXIT_PASSED or not result or result.get("state") != db.PASSED:
            return self.end(outcome_of(code, result, "the build part on a Dask worker"))
        try:
            handback.store_answer(answer, folder, folder / "work")
        except CiError as exc:
            return self.end(Outcome(db.FAILED, str(exc)))
        return None

    def answer(self) -> dict[str, Any] | Outcome:
        """The worker's answer to the build sent (its log goes to the job's log), or how
        the job ended (recorded)."""
        while True:
            try:
                answer: dict[str, Any] = self.future.result(timeout=POLL)
                break
            except TimeoutError:  # still running
                stop = self.should_stop(self.deadline)
                if stop is not None:
                    self.future.cancel()
                    return stop
            except Exception as exc:  # the cluster lost the task (KilledWorker), or us
                self.future.cancel()
                message = f"the Dask cluster failed: {type(exc).__name__}: {exc}"
                return self.end(Outcome("retry", message))
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as out:
            out.write(f"== pipl ci runner: build part on Dask worker {answer['worker']} ")
            out.write(f"({answer['host']})\n{answer.get('log', '')}")
        return answer

    def should_stop(self, deadline: float) -> Outcome | None:
        """Why the job must stop now (timed out, runner stopping, cancelled)."""
        if time.monotonic() > deadline:
            message = f"timed out after {self.timeout:.0f}s: see its log"
            return self.end(Outcome(db.FAILED, message))
        if self.stopping.is_set():
            db.requeue(self.conn, self.job.id, 0, "the runner stopped while this job ran")
            return Outcome("retry", "the runner stopped")
        if db.get_job(self.conn, self.job.id).state == db.CANCELLED:
            return Outcome(db.CANCELLED, "cancelled")
        return None
