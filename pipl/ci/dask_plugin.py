"""The Dask worker plugin of CI jobs: a worker's prefork process (``pipl.ci.prefork``,
pipl and the handlers imported once) starts when the worker joins, or when the runner
connects to a cluster already running, not when its first job arrives; it stops with
the worker. The runner registers it (``pipl.ci.dask.DaskDispatch``) and Dask gives it
to the workers that join later. A module of its own: it imports ``distributed``, which
only the Dask executor needs."""

from __future__ import annotations

import threading
from typing import Any

from distributed import WorkerPlugin

from pipl.ci import dask_worker


class PreforkPlugin(WorkerPlugin):
    name = "pipl-ci-prefork"

    def setup(self, worker: Any) -> None:
        # in a thread: the worker answers the scheduler while pipl is being imported
        threading.Thread(target=dask_worker.worker_prefork, name=self.name, daemon=True).start()

    def teardown(self, worker: Any) -> None:
        with dask_worker.PREFORK_LOCK:
            prefork = dask_worker.PREFORK.pop("process", None)
        if prefork is not None:
            prefork.close()
