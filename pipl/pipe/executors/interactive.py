"""In-process execution, one instance after the other: for debugging with ``pdb``."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from pipl_pipe.segment.worker import Result, SegmentJob, Task, run_batch

from pipl.errors import PipelineError
from pipl.pipe.executors import batches


class InteractiveExecutor:
    name = "interactive"

    def run(self, job: SegmentJob, tasks: list[Task], python: str) -> Iterator[list[Result]]:
        if python != sys.executable:
            raise PipelineError(
                f"segment {job.name} runs in its own environment ({python}): use the local "
                "executor, or run it interactively with that environment's python"
            )
        for batch in batches(tasks, 1, largest=200):
            yield run_batch(job, batch)

    def close(self) -> None:
        pass
