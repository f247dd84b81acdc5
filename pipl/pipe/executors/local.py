"""A pool of long-lived worker processes per environment (``pipl_pipe.segment.worker``).

Each worker is started once per run and interpreter, and receives batches of instances
over a pipe it inherited (segment code may print: stdout is not the channel). One
thread per worker feeds it from a shared queue of batches.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from pipl_pipe.segment.worker import Result, SegmentJob, Task

from pipl.errors import PipelineError
from pipl.pipe.executors import batches
from pipl.runner import Runner


class Worker:
    def __init__(self, python: str, runner: Runner) -> None:
        self.python = python
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        self.proc = runner.spawn(
            [python, "-m", "pipl_pipe.segment.worker", str(to_child_r), str(to_parent_w)],
            pass_fds=(to_child_r, to_parent_w),
        )
        os.close(to_child_r)
        os.close(to_parent_w)
        self.outbox = Connection(to_child_w, readable=False)
        self.inbox = Connection(to_parent_r, writable=False)

    def call(self, job: SegmentJob, tasks: list[Task]) -> list[Result]:
        self.outbox.send((job, tasks))
        status, payload = self.inbox.recv()
        if status != "ok":
            raise PipelineError(f"segment {job.name}: worker failed: {payload.splitlines()[-1]}")
        results: list[Result] = payload
        return results

    def close(self) -> None:
        self.outbox.close()
        self.inbox.close()
        try:
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


class LocalExecutor:
    name = "local"

    def __init__(self, jobs: int, runner: Runner | None = None) -> None:
        self.jobs = max(1, jobs)
        self.runner = runner or Runner()
        self.pools: dict[str, list[Worker]] = {}

    def _pool(self, python: str) -> list[Worker]:
        if python not in self.pools:
            self.pools[python] = [Worker(python, self.runner) for _ in range(self.jobs)]
        return self.pools[python]

    def run(self, job: SegmentJob, tasks: list[Task], python: str) -> Iterator[list[Result]]:
        work = batches(tasks, self.jobs)
        if not work:
            return
        pool = self._pool(python)
        if len(work) == 1 or self.jobs == 1:
            for batch in work:
                yield self._call(pool, 0, job, batch)
            return
        pending: queue.Queue[list[Task]] = queue.Queue()
        for batch in work:
            pending.put(batch)
        done: queue.Queue[Any] = queue.Queue()

        def feed(slot: int) -> None:
            while True:
                try:
                    batch = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put(self._call(pool, slot, job, batch))
                except BaseException as exc:  # handed to the consuming thread
                    done.put(exc)
                    return

        threads = [
            threading.Thread(target=feed, args=(slot,), daemon=True) for slot in range(len(pool))
        ]
        for t in threads:
            t.start()
        for _ in range(len(work)):
            item = done.get()
            if isinstance(item, BaseException):
                raise item
            yield item
        for t in threads:
            t.join()

    def _call(
        self, pool: list[Worker], slot: int, job: SegmentJob, batch: list[Task]
    ) -> list[Result]:
        """Run a batch on the pool's worker ``slot``; a worker that died (an instance
        called os._exit, a crash) fails its batch and is replaced."""
        worker = pool[slot]
        try:
            return worker.call(job, batch)
        except (EOFError, OSError):
            code = worker.proc.wait()
            worker.close()
            pool[slot] = Worker(worker.python, self.runner)
            return [
                Result(t.name, False, [], 0.0, 0.0, f"worker process died (exit {code})")
                for t in batch
            ]

    def close(self) -> None:
        for pool in self.pools.values():
            for worker in pool:
                worker.close()
        self.pools.clear()
