"""A pool of long-lived worker processes per environment (``pipl_pipe.segment.worker``).

Each worker is started once per run and interpreter, and receives batches of instances
over a pipe it inherited (segment code may print: stdout is not the channel). One
thread per worker feeds it from a shared queue of batches.

Workers die with their run: each one watches a third pipe that only this process
writes to and kills its process group (itself and what its instances started) when
that pipe ends, which happens when this process exits or is killed (even with -9).
Workers also inherit ``keep_fds`` (the run lock): while one lives, the lock is held.

A segment with a timeout has its results sent one by one; a worker whose instance runs
past the timeout is killed and replaced, the instance fails with ``InstanceTimeout`` and
the rest of its batch runs on the new worker. A ``stop`` event (a cancelled run) kills
the workers at once; the results that came back before stay.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection
from typing import Any

from pipl_pipe.segment.worker import LOG, TIMEOUT_TYPES, Result, SegmentJob, Task

from pipl.errors import PipelineError
from pipl.pipe.executors import batches
from pipl.runner import Runner

POLL = 0.2  # seconds between looks at the stop event while a batch runs
STARTUP = 30.0  # seconds a worker may take to begin a batch, on top of a timeout


class _Interrupted(Exception):  # not an error: a batch cut short
    """A batch cut short (timeout or stop); ``results`` came back before."""

    def __init__(self, results: list[Result], timed_out: bool) -> None:
        super().__init__("interrupted")
        self.results = results
        self.timed_out = timed_out


class Worker:
    def __init__(self, python: str, runner: Runner, keep_fds: Sequence[int] = ()) -> None:
        self.python = python
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        life_r, self.life = os.pipe()
        child_ends = (to_child_r, to_parent_w, life_r)
        try:
            self.proc = runner.spawn(
                [python, "-m", "pipl_pipe.segment.worker", *map(str, child_ends)],
                pass_fds=(*child_ends, *keep_fds),
                detach=True,  # a process group of its own, killed as one
            )
        except BaseException:
            for fd in (to_child_w, to_parent_r, self.life):
                os.close(fd)
            raise
        finally:
            for fd in child_ends:
                os.close(fd)
        self.outbox = Connection(to_child_w, readable=False)
        self.inbox = Connection(to_parent_r, writable=False)

    def call(
        self, job: SegmentJob, tasks: list[Task], stop: threading.Event | None = None
    ) -> list[Result]:
        """Run a batch; raises ``_Interrupted`` when ``stop`` is set or an instance runs
        past ``job.timeout`` (the worker is then still busy: kill it)."""
        self.outbox.send((job, tasks))
        results: list[Result] = []
        # the clock of the first instance starts when the worker begins the batch (a new
        # worker may still be starting); until then it has STARTUP seconds more
        last = time.monotonic() + STARTUP
        while True:
            wait = POLL
            if job.timeout:
                wait = min(wait, max(0.0, last + job.timeout - time.monotonic()))
            if self.inbox.poll(wait):
                status, payload = self.inbox.recv()
                if status in ("begin", "one"):
                    if status == "one":
                        results.append(payload)
                    last = time.monotonic()
                    continue
                if status != "ok":
                    raise PipelineError(
                        f"segment {job.name}: worker failed: {payload.splitlines()[-1]}"
                    )
                return results + list(payload)
            if stop is not None and stop.is_set():
                raise _Interrupted(results, timed_out=False)
            if job.timeout and time.monotonic() >= last + job.timeout:
                raise _Interrupted(results, timed_out=True)

    def kill(self) -> int | None:
        """Stop the worker and what its instances started, now; its exit code."""
        if self.proc.returncode is None:  # once reaped, its pid may name another group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        code = self.proc.wait()
        self._close_fds()
        return code

    def close(self) -> None:
        """Let the worker finish (it exits when its pipe ends), then let go of it."""
        self.outbox.close()
        self.inbox.close()
        try:
            self.proc.wait(timeout=10)
        except Exception:
            self.kill()
        self._close_fds()

    def _close_fds(self) -> None:
        for conn in (self.outbox, self.inbox):
            conn.close()
        if self.life >= 0:
            os.close(self.life)
            self.life = -1


class LocalExecutor:
    name = "local"
    supports_timeout = True

    def __init__(
        self, jobs: int, runner: Runner | None = None, keep_fds: Sequence[int] = ()
    ) -> None:
        self.jobs = max(1, jobs)
        self.runner = runner or Runner()
        self.keep_fds = tuple(keep_fds)
        self.pools: dict[str, list[Worker]] = {}
        self.aborted = False

    def _worker(self, python: str) -> Worker:
        if self.aborted:
            raise PipelineError("the run was stopped: no new worker is started")
        return Worker(python, self.runner, self.keep_fds)

    def _pool(self, python: str) -> list[Worker]:
        if python not in self.pools:
            self.pools[python] = [self._worker(python) for _ in range(self.jobs)]
        return self.pools[python]

    def run(
        self,
        job: SegmentJob,
        tasks: list[Task],
        python: str,
        stop: threading.Event | None = None,
    ) -> Iterator[list[Result]]:
        work = batches(tasks, self.jobs)
        if not work:
            return
        pool = self._pool(python)
        if len(work) == 1 or self.jobs == 1:
            for batch in work:
                if stop is not None and stop.is_set():
                    return
                yield self._call(pool, 0, job, batch, stop)
            return
        pending: queue.Queue[list[Task]] = queue.Queue()
        for batch in work:
            pending.put(batch)
        done: queue.Queue[Any] = queue.Queue()

        def feed(slot: int) -> None:
            while not (stop is not None and stop.is_set()):
                try:
                    batch = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put(self._call(pool, slot, job, batch, stop))
                except BaseException as exc:  # handed to the consuming thread
                    done.put(exc)
                    return

        threads = [
            threading.Thread(target=feed, args=(slot,), daemon=True) for slot in range(len(pool))
        ]
        for t in threads:
            t.start()
        received = 0
        while received < len(work):
            try:
                item = done.get(timeout=POLL)
            except queue.Empty:
                if not any(t.is_alive() for t in threads) and done.empty():
                    return  # stopped: the feeders left batches unrun
                continue
            if isinstance(item, BaseException):
                raise item
            received += 1
            yield item
        for t in threads:
            t.join()

    def _call(
        self,
        pool: list[Worker],
        slot: int,
        job: SegmentJob,
        batch: list[Task],
        stop: threading.Event | None,
    ) -> list[Result]:
        """Run a batch on the pool's worker ``slot``. A worker that died (an instance
        called os._exit, a crash) fails the rest of its batch and is replaced; one past
        the timeout fails its instance, is replaced, and the rest runs on; on ``stop``
        the worker is killed and what finished is returned."""
        finished: list[Result] = []
        remaining = batch
        while remaining:
            worker = pool[slot]
            try:
                return finished + worker.call(job, remaining, stop)
            except _Interrupted as cut:
                finished += cut.results
                worker.kill()
                if not cut.timed_out:
                    return finished
                late = remaining[len(cut.results)]
                finished.append(_timed_out(job, late))
                remaining = remaining[len(cut.results) + 1 :]
                pool[slot] = self._worker(worker.python)
            except (EOFError, OSError):
                code = worker.proc.wait()
                worker.close()
                if self.aborted:
                    return finished
                pool[slot] = self._worker(worker.python)
                error = f"worker process died (exit {code})"
                return finished + [
                    Result(t.name, False, [], 0.0, 0.0, error, ("WorkerDied",)) for t in remaining
                ]
        return finished

    def abort(self) -> None:
        """Kill every worker now (a cancelled or interrupted run)."""
        self.aborted = True
        for pool in self.pools.values():
            for worker in pool:
                worker.kill()
        self.pools.clear()

    def close(self) -> None:
        for pool in self.pools.values():
            for worker in pool:
                worker.close()
        self.pools.clear()


def _timed_out(job: SegmentJob, task: Task) -> Result:
    """The result of an instance stopped past its timeout, with a line in its log."""
    error = f"InstanceTimeout: ran over its {job.timeout:g}s timeout (its worker was killed)"
    folder = os.path.join(job.root, "data", task.name)
    with contextlib.suppress(OSError), open(os.path.join(folder, LOG), "a") as fh:
        fh.write(f"{error}\n")
    return Result(
        task.name,
        False,
        [],
        time.time() - (job.timeout or 0),
        job.timeout or 0.0,
        error,
        TIMEOUT_TYPES,
    )
