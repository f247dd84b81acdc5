"""Dask distributed: batches of instances as tasks on a scheduler's workers.

``scheduler`` is an address (``tcp://host:8786``, e.g. a dask-jobqueue cluster on PBS or
SLURM); without one, a LocalCluster of ``jobs`` worker processes is started for the run.

A segment with its own environment (``"env": [...]``, made here under ``.envs/<hash>/``
with its lock) runs on each worker in the same environment, made there from the project
index and cached by its lock (``pipl_pipe.segment.uvenv``). Other segments run in the
workers' own environment: it must have pipl-pipe and the segments' packls.
A stop cancels the batches not started; Dask cannot stop a batch that runs, nor an
instance past a timeout (``supports_timeout`` is False: the engine refuses timeouts).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipl_pipe.segment.worker import Result, SegmentJob, Task, run_batch

from pipl.errors import PipelineError, UsageError
from pipl.pipe.executors import batches


class DaskExecutor:
    name = "dask"
    supports_timeout = False

    def __init__(self, jobs: int, scheduler: str | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise UsageError(
                "the dask executor needs dask distributed: pip install 'pipl[dask]'"
            ) from None
        self.jobs = max(1, jobs)
        self.cluster: Any = None
        self.futures: list[Any] = []
        if scheduler:
            self.client = Client(scheduler)
        else:
            self.cluster = LocalCluster(
                n_workers=self.jobs,
                threads_per_worker=1,
                processes=True,
                protocol="tcp",
                dashboard_address=None,
            )
            self.client = Client(self.cluster)

    def run(
        self,
        job: SegmentJob,
        tasks: list[Task],
        python: str,
        stop: threading.Event | None = None,
    ) -> Iterator[list[Result]]:
        from distributed import as_completed

        work = batches(tasks, self.jobs)
        if not work:
            return
        scattered = self.client.scatter(job, broadcast=True)
        own = own_environment(python, job.name)
        if own is None:
            futures = [self.client.submit(run_batch, scattered, b, pure=False) for b in work]
        else:
            from pipl_pipe.segment.uvenv import run_batch_in_env

            lock, index_url = own
            version = f"{sys.version_info.major}.{sys.version_info.minor}"
            futures = [
                self.client.submit(
                    run_batch_in_env, lock, index_url, version, scattered, b, pure=False
                )
                for b in work
            ]
        self.futures = futures
        for future in as_completed(futures):
            if stop is not None and stop.is_set():
                self.abort()
                return
            yield future.result()

    def abort(self) -> None:
        """Cancel the batches not finished (one that runs goes on in its Dask worker)."""
        self.client.cancel(self.futures)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def own_environment(python: str, segment: str) -> tuple[str, str] | None:
    """(lock, index URL) when ``python`` is a segment environment made from a lock
    (``pipl.pipe.envs``), else None: the segment runs in the workers' environment."""
    from pipl.pipe.envs import INDEX_FILE

    folder = Path(python).parent.parent
    lock = folder / "pipl-lock.txt"
    if not lock.is_file():
        return None
    index = folder / INDEX_FILE
    if not index.is_file():
        raise PipelineError(
            f"segment {segment}: its environment {folder} does not say which index it "
            "comes from (made by an older pipl): remove that folder and run again"
        )
    return lock.read_text().strip(), index.read_text().strip()
