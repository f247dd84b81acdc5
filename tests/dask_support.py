"""A real Dask cluster for tests: a scheduler and workers as separate processes over TCP
on 127.0.0.1, started with the ``dask scheduler`` / ``dask worker`` programs of the test
environment (no nanny: kill -9 of a worker kills the worker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import free_port

BIN = Path(sys.executable).parent


class Cluster:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._client: Any = None

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.folder / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )

    def start_scheduler(self, env: dict[str, str] | None = None) -> None:
        argv = [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(self.port)]
        self._spawn("scheduler", [*argv, "--no-dashboard", "--no-show"], env)

    def start_worker(
        self, name: str, resources: str = "", env: dict[str, str] | None = None
    ) -> None:
        """A worker process named ``name`` (its Dask name too), with ``resources`` (and
        ``env`` added to its environment)."""
        argv = [str(BIN / "dask"), "worker", self.address, "--name", name, "--nthreads", "1"]
        argv += ["--no-nanny", "--no-dashboard", "--host", "127.0.0.1"]
        if resources:
            argv += ["--resources", resources]
        work = self.folder / f"work-{name}"
        work.mkdir(exist_ok=True)
        argv += ["--local-directory", str(work)]
        places = {"PIPL_CI_WORKER_DIR": str(work / "jobs"), "PIPL_PIPE_ENVS": str(work / "envs")}
        self._spawn(name, argv, {**places, **(env or {})})

    @property
    def client(self) -> Any:
        from distributed import Client

        if self._client is None:
            self._client = Client(self.address, timeout=30, set_as_default=False)
        return self._client

    def wait_for_workers(self, names: set[str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if names <= set(self.workers()):
                return
            time.sleep(0.1)
        raise TimeoutError(f"Dask workers {names} did not join: see {self.folder}")

    def workers(self) -> dict[str, dict[str, Any]]:
        """Dask name -> the scheduler's record of that worker (address, pid, ...)."""
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return {str(w["name"]): {**w, "address": a} for a, w in info.items()}

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def cluster(
    folder: Path, workers: dict[str, str], scheduler_env: dict[str, str] | None = None
) -> Iterator[Cluster]:
    """A scheduler (its environment plus ``scheduler_env``: Dask settings) and one worker
    per ``workers`` entry (name -> resources)."""
    found = Cluster(folder)
    try:
        found.start_scheduler(scheduler_env)
        for name, resources in workers.items():
            found.start_worker(name, resources)
        found.wait_for_workers(set(workers))
        yield found
    finally:
        found.close()
