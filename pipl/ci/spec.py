"""What one CI job runs for, as the runner hands it to the job's process.

A release's upload becomes an outbox event, the event a job row (``pipl.ci.db``), and the
row, when the runner starts the job, a ``JobSpec``: written to the job's ``spec.json``,
read back by ``python -m pipl.ci.job``, which builds the handler's ``JobContext`` from it
(``JobContext.from_spec``). One type, so the fields cannot drift between the writer and
the reader. With ``[ci] executor = "dask"`` the same spec, as a dict, is what the runner
sends to a Dask worker (``pipl.ci.dask``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class JobSpec:
    job_id: int
    handler: str
    project_root: str
    index: str
    project: str  # the release's project name
    version: str
    filename: str
    sha256: str
    workdir: str
    attempt: int = 0
    index_config: dict[str, Any] = field(default_factory=dict)
    gates: dict[str, str] = field(default_factory=dict)  # handler -> state, this release
    created: float = 0.0  # when the job was queued (time.time())
    spawned: float = 0.0  # when the runner started its process
    sandbox: dict[str, Any] = field(default_factory=dict)  # [ci.sandbox] as a table
    # which part of a handler with a worker part (``build``/``deliver``) runs: "" the
    # whole handler; "build" on a Dask worker (no token, no project folder: it reads the
    # index at ``server_url``); "deliver" in the runner's host with what the build sent
    part: str = ""
    server_url: str = ""
    resources: dict[str, float] = field(default_factory=dict)  # what a build part's worker has
    # a deliver part started before its build ended waits this long (seconds, at most)
    # for the build's files (``handback.json``); 0: they are there
    handback_wait: float = 0.0
    # the re-processing the job runs (``pipl.ci.downstream.recorded``: reason, pins,
    # number), read from the CI database by the runner; empty: its release's own upload
    remake: dict[str, Any] = field(default_factory=dict)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(dataclasses.asdict(self), indent=1))

    @classmethod
    def read(cls, path: Path) -> JobSpec:
        data = json.loads(path.read_text())
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def title(self) -> str:
        """The first line of the job's log."""
        return (
            f"{self.handler} for {self.project} {self.version} ({self.filename}) on "
            f"{self.index}, attempt {self.attempt}"
        )
