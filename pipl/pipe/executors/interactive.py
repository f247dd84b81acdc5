"""In-process execution, one instance after the other: for debugging with ``pdb``.

A timeout is enforced with an alarm signal when the run is in the main thread (the
instance raises ``InstanceTimeout`` where it is); a stop is seen between instances.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

from pipl_pipe.segment.worker import BatchOptions, Result, SegmentJob, Task, run_batch

from pipl.errors import PipelineError
from pipl.pipe.executors import batches


class InteractiveExecutor:
    name = "interactive"
    supports_timeout = True

    def run(
        self,
        job: SegmentJob,
        tasks: list[Task],
        python: str,
        stop: threading.Event | None = None,
    ) -> Iterator[list[Result]]:
        if python != sys.executable:
            raise PipelineError(
                f"segment {job.name} runs in its own environment ({python}): use the local "
                "executor, or run it interactively with that environment's python"
            )
        options = BatchOptions(
            stop=stop.is_set if stop is not None else None,
            alarm=threading.current_thread() is threading.main_thread(),
        )
        for batch in batches(tasks, 1, largest=200):
            if stop is not None and stop.is_set():
                return
            yield run_batch(job, batch, options)

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass
