"""Executors run batches of instances of one segment and yield result batches.

- ``interactive``: in this process, one instance after the other (``pdb`` works);
- ``local`` (default): long-lived worker processes, one pool per environment, batches of
  instances sent to them over dedicated pipes (never one process per instance);
- ``dask``: a Dask distributed scheduler (``--scheduler ADDRESS``, or a LocalCluster).

A ``stop`` event set while ``run`` goes (a cancelled run) makes it return early with
what finished; ``job.timeout`` bounds each instance where ``supports_timeout`` says so.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Protocol

from pipl_pipe.segment.worker import Result, SegmentJob, Task

from pipl.errors import UsageError

EXECUTORS = ("local", "interactive", "dask")


class Executor(Protocol):
    name: str
    supports_timeout: bool  # whether it stops an instance past ``job.timeout``

    def run(
        self,
        job: SegmentJob,
        tasks: list[Task],
        python: str,
        stop: threading.Event | None = None,
    ) -> Iterator[list[Result]]:
        """Run every task; yield results as batches finish. ``python`` is the interpreter
        of the segment's environment; once ``stop`` is set, stop early."""
        ...

    def abort(self) -> None:
        """Stop what still runs, now (the run was cancelled or interrupted)."""
        ...

    def close(self) -> None: ...


def batches(tasks: list[Task], workers: int, largest: int = 2000) -> list[list[Task]]:
    """About four batches per worker (for balance), at most ``largest`` instances each."""
    if not tasks:
        return []
    size = max(1, min(largest, -(-len(tasks) // (workers * 4))))
    return [tasks[i : i + size] for i in range(0, len(tasks), size)]


def make_executor(
    name: str, jobs: int, scheduler: str | None = None, keep_fds: Sequence[int] = ()
) -> Executor:
    """The executor ``name``; ``keep_fds`` are descriptors its worker processes keep open
    while they live (the run lock, so that it covers them)."""
    if name == "interactive":
        from pipl.pipe.executors.interactive import InteractiveExecutor

        return InteractiveExecutor()
    if name == "local":
        from pipl.pipe.executors.local import LocalExecutor

        return LocalExecutor(jobs, keep_fds=keep_fds)
    if name == "dask":
        from pipl.pipe.executors.dask import DaskExecutor

        return DaskExecutor(jobs, scheduler)
    raise UsageError(f"unknown executor {name!r}: choose from {', '.join(EXECUTORS)}")
