"""Executors run batches of instances of one segment and yield result batches.

- ``interactive``: in this process, one instance after the other (``pdb`` works);
- ``local`` (default): long-lived worker processes, one pool per environment, batches of
  instances sent to them over dedicated pipes (never one process per instance);
- ``dask``: a Dask distributed scheduler (``--scheduler ADDRESS``, or a LocalCluster).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from pipl_pipe.segment.worker import Result, SegmentJob, Task

from pipl.errors import UsageError

EXECUTORS = ("local", "interactive", "dask")


class Executor(Protocol):
    name: str

    def run(self, job: SegmentJob, tasks: list[Task], python: str) -> Iterator[list[Result]]:
        """Run every task; yield results as batches finish. ``python`` is the interpreter
        of the segment's environment."""
        ...

    def close(self) -> None: ...


def batches(tasks: list[Task], workers: int, largest: int = 2000) -> list[list[Task]]:
    """About four batches per worker (for balance), at most ``largest`` instances each."""
    if not tasks:
        return []
    size = max(1, min(largest, -(-len(tasks) // (workers * 4))))
    return [tasks[i : i + size] for i in range(0, len(tasks), size)]


def make_executor(name: str, jobs: int, scheduler: str | None = None) -> Executor:
    if name == "interactive":
        from pipl.pipe.executors.interactive import InteractiveExecutor

        return InteractiveExecutor()
    if name == "local":
        from pipl.pipe.executors.local import LocalExecutor

        return LocalExecutor(jobs)
    if name == "dask":
        from pipl.pipe.executors.dask import DaskExecutor

        return DaskExecutor(jobs, scheduler)
    raise UsageError(f"unknown executor {name!r}: choose from {', '.join(EXECUTORS)}")
