"""In-process execution, one instance after the other: for debugging with ``pdb``."""

from __future__ import annotations

from collections.abc import Iterator

from pipl_pipe.segment.worker import Result, SegmentJob, Task, run_batch

from pipl.pipe.executors import batches


class InteractiveExecutor:
    name = "interactive"

    def run(self, job: SegmentJob, tasks: list[Task], python: str) -> Iterator[list[Result]]:
        for batch in batches(tasks, 1, largest=200):
            yield run_batch(job, batch)

    def close(self) -> None:
        pass
