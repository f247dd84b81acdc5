"""CI jobs on a Dask cluster: ``[ci] executor = "dask"`` with ``scheduler = "tcp://HOST:PORT"``.

What runs where, for a handler with a worker part (``build``/``deliver``: ``wheel``,
``qa`` and ``process``):

- the runner sends the job's ``JobSpec`` (as a dict) to the cluster, asking for the Dask
  worker resources of the handler (``[ci.resources]`` or the handler's ``resources``),
  and starts the job's local process with ``part = "deliver"``, which waits for
  ``handback.json`` (``pipl.ci.dask_jobs``);
- a Dask worker runs ``build_on_worker`` (``pipl.ci.dask_worker``): ``python -m
  pipl.ci.job`` with the spec's ``part = "build"``, forked by the worker's prefork
  process (``pipl.ci.dask_plugin``), in a temporary folder of its own host, with no token
  and no project folder (the job's client reads the index anonymously at
  ``server_url``); the untrusted code runs in that host's sandbox as it would here. The
  worker sends back the job's log, its result and the files and folders the build handed
  back (regular files, bounded: ``pipl.ci.handback``);
- the runner writes those files into the job's work folder, ``handback.json`` last: the
  deliver process checks them again and uploads them with the CI user's token, which
  never leaves the runner's host.

This module is the runner's side: which handlers have a worker part, and the one client
of the scheduler.

A worker killed mid-job: the scheduler gives the task to another worker (Dask's
``allowed-failures``), and the upload happens once, after the one answer the runner
reads. A cluster that cannot be reached, or that lost the task, is an infrastructure
error: the runner retries the job later. Handlers without a worker part run locally.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from pipl.ci.dask_worker import build_on_worker
from pipl.ci.handlers import CiError
from pipl.ci.spec import JobSpec


def has_worker_part(handler: object) -> bool:
    """Whether a job of ``handler`` sends its build part to a worker: the handler has
    ``build`` and ``deliver``."""
    return callable(getattr(handler, "build", None)) and callable(getattr(handler, "deliver", None))


class DaskDispatch:
    """The runner's one client of the Dask scheduler (thread-safe: every job thread
    submits through it)."""

    def __init__(self, scheduler: str, *, connect_timeout: float = 10.0) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise CiError(
                '[ci] executor = "dask" needs dask distributed: pip install "pipl[dask]"'
            ) from None
        try:
            self.client = Client(scheduler, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise CiError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}): start it "
                "(dask scheduler) or fix [ci] scheduler in pipl.toml"
            ) from None
        self.plugin_error = self._register_plugin()

    def _register_plugin(self) -> str:
        """Every worker (and each that joins later) starts its prefork process for CI jobs
        now. A worker without this pipl (one for pipeline segments, with pipl-pipe only)
        refuses it: that breaks nothing, each worker then starts it with its first job.
        What went wrong, or an empty string."""
        from pipl.ci.dask_plugin import PreforkPlugin

        try:
            self.client.register_plugin(PreforkPlugin(), name=PreforkPlugin.name)
        except Exception as exc:  # raised by a worker, relayed by the scheduler
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return f"a Dask worker could not load pipl's CI worker plugin ({first})"
        return ""

    def submit(self, spec: JobSpec, timeout: float, resources: dict[str, float]) -> Any:
        """Send the job's build part to a worker with ``resources``; a Dask future."""
        key = f"pipl-ci-{spec.handler}-{spec.job_id}-{spec.attempt}-{uuid.uuid4().hex[:8]}"
        return self.client.submit(
            build_on_worker,
            dataclasses.asdict(spec),
            timeout,
            key=key,
            pure=False,
            resources=resources or None,
        )

    def close(self) -> None:
        self.client.close()
