"""CI handlers: plugins in the ``pipl.ci_handlers`` entry-point group.

pipl's own handlers (wheel, qa, promote, process, webhook) register there exactly as a
packl's would. A handler is an object (or a class, instantiated without arguments) with:

- ``rank``: order among one release's jobs on one index: a job starts once every job of a
  lower rank (above 0) of the same release there has ended; 0 waits for nothing;
- ``per_file``: one job per uploaded file (else one per release);
- ``timeout``: seconds a job may run (None: the runner's ``[ci] timeout``);
- ``accepts(filename) -> bool``: whether a file makes a job (an sdist for ``wheel``);
- ``run(ctx: JobContext) -> str``: does the work in the job's own process and returns a
  one-line summary; raises ``HandlerFailed`` (the job fails) or ``InfraError`` (the
  runner retries later) or anything else (the job fails, with the traceback in its log).

A handler whose untrusted work can run on another host splits ``run`` in two:

- ``build(ctx) -> Handback``: the sandboxed work (a wheel build, tox, a release's
  processing), run on a Dask worker
  with ``[ci] executor = "dask"``: there it has no token (its client reads the index
  anonymously) and no project folder; it hands back files of its work folder;
- ``deliver(ctx, handback) -> str``: the trusted part, always in the runner's host with
  the CI user's token: it checks what came back and uploads it;
- ``resources``: the Dask worker resources its jobs ask for (``{"render": 1}``), which
  ``[ci.resources]`` in ``pipl.toml`` overrides per handler; a build part that finds
  the release asks for more (``release_resources``) raises ``NeedsResources``.

With the local executor ``run`` calls both in the job's process, the same code.

``BaseHandler`` gives the defaults (rank 0, one job per release, the runner's timeout,
every file accepted); pipl's handlers subclass it.

Entry points are loaded when used; one that cannot load names itself in its jobs' errors
and breaks nothing else.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

# the CI errors live with all of pipl's in pipl.errors; handlers import them from here too
from pipl.errors import CiError as CiError
from pipl.errors import HandlerFailed as HandlerFailed
from pipl.errors import InfraError as InfraError
from pipl.errors import NeedsResources as NeedsResources
from pipl.errors import NotYet as NotYet

if TYPE_CHECKING:
    from pipl.ci.spec import JobSpec
    from pipl.index.client import IndexClient
    from pipl.project.config import SandboxConfig
    from pipl.project.project import Project
    from pipl.runner import Runner

GROUP = "pipl.ci_handlers"
SDIST_SUFFIXES = (".tar.gz", ".zip")


class Handler(Protocol):
    rank: int
    per_file: bool
    timeout: float | None

    def accepts(self, filename: str) -> bool: ...

    def run(self, ctx: JobContext) -> str: ...


class BaseHandler:
    """A handler's defaults: subclass it and set what differs. ``needs_passed``: the job
    is cancelled when a job of a lower rank of its release failed."""

    rank = 0
    per_file = False
    timeout: float | None = None
    needs_passed = False

    def accepts(self, filename: str) -> bool:
        return True

    def run(self, ctx: JobContext) -> str:
        raise NotImplementedError(f"{type(self).__name__} has no run()")


@dataclass(frozen=True)
class Handback:
    """What a handler's ``build`` hands to its ``deliver``: files of its work folder and a
    few JSON values; ``summary`` set: nothing to deliver, the job's summary."""

    files: tuple[Path, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


@dataclass
class JobContext:
    """What a handler gets: the release, the index and its options, a logged-in client
    (the CI user's token), a private work folder, and the one ``Runner``."""

    job_id: int
    handler: str
    project: Project
    index: str
    name: str
    version: str
    filename: str
    sha256: str
    index_config: dict[str, Any]
    client: IndexClient
    workdir: Path
    runner: Runner
    gates: dict[str, str] = field(default_factory=dict)  # handler -> state, this release
    created: float = 0.0  # when the job was queued (time.time())
    sandbox: SandboxConfig | None = None  # [ci.sandbox]; None: the defaults
    # on a Dask worker (a build part): the resources it was chosen for; None elsewhere
    worker_resources: dict[str, float] | None = None
    # the re-processing the job runs (``JobSpec.remake``; ``pipl.ci.builtin.remake.plan``)
    remake: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_spec(
        cls, spec: JobSpec, project: Project, client: IndexClient, runner: Runner
    ) -> JobContext:
        """The context of the job ``spec`` describes, with the job process's client (logged
        in with the CI user's token) and runner."""
        from pipl.project.config import parse_sandbox

        return cls(
            job_id=spec.job_id,
            handler=spec.handler,
            project=project,
            index=spec.index,
            name=spec.project,
            version=spec.version,
            filename=spec.filename,
            sha256=spec.sha256,
            index_config=spec.index_config,
            client=client,
            workdir=Path(spec.workdir),
            runner=runner,
            gates=spec.gates,
            created=spec.created,
            sandbox=parse_sandbox(spec.sandbox or None),
            worker_resources=dict(spec.resources) if spec.part == "build" else None,
            remake=dict(spec.remake),
        )

    def log(self, message: str) -> None:
        print(message, flush=True)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time a step of the job: ``phase NAME took N.NN s`` goes to its log."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.log(f"phase {name} took {time.perf_counter() - start:.2f} s")

    @property
    def simple_url(self) -> str:
        return f"{self.project.url}/{self.index}/+simple/"

    @property
    def promote_to(self) -> str:
        return str(self.index_config.get("pipl_promote_to") or "")

    def child_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment for code a handler runs (tox, processing): no pipl variable,
        no secret, not even the job's token, and the index for pip and uv. In the sandbox
        (``sandboxed``) only the variables that differ from the runner's are passed on."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPL_", "UV_", "PIP_"))}
        env.pop("VIRTUAL_ENV", None)
        env.update(
            PIP_INDEX_URL=self.simple_url,
            UV_DEFAULT_INDEX=self.simple_url,
            UV_PYTHON_DOWNLOADS="never",
            PIP_DISABLE_PIP_VERSION_CHECK="1",
        )
        env.update(extra or {})
        return env

    def sandboxed(self, *, writable: tuple[Path, ...] = ()) -> Runner:
        """The runner for code that comes from the index (build backends, tests,
        processing): every program it starts runs in the job's sandbox, which sees the
        work folder and ``writable`` and nothing of the project. Where no sandbox can
        start, ``SandboxUnavailable`` (the job fails, saying what to install), unless the
        owner set ``[ci.sandbox] enabled = false``: then the job's own runner, with a
        warning in the log."""
        from pipl.ci.sandbox import (
            Sandbox,
            SandboxRunner,
            SandboxUnavailable,
            unavailable_reason,
        )
        from pipl.project.config import SandboxConfig

        config = self.sandbox or SandboxConfig()
        if not config.enabled:
            self.log(
                "WARNING: [ci.sandbox] enabled = false in pipl.toml: code from the index "
                "runs unsandboxed, with the runner's rights"
            )
            return self.runner
        reason = unavailable_reason()
        if reason is not None:
            raise SandboxUnavailable(f"not run: {reason}")
        box = Sandbox(
            workdir=self.workdir, hidden=(self.project.root,), writable=writable, config=config
        )
        index = {"PIP_INDEX_URL": self.simple_url, "UV_DEFAULT_INDEX": self.simple_url}
        return SandboxRunner(box, index)


def check_resources(ctx: JobContext, asked: dict[str, float]) -> None:
    """On a Dask worker, raise ``NeedsResources`` when the release asks for resources
    (``asked``) beyond those the worker was chosen for; elsewhere nothing to check."""
    have = ctx.worker_resources
    if have is None or not asked:
        return
    if any(have.get(name, 0.0) < amount for name, amount in asked.items()):
        raise NeedsResources({**have, **asked})


@cache
def available() -> dict[str, md.EntryPoint]:
    """Installed handlers by name (entry points, not loaded)."""
    return {ep.name: ep for ep in md.entry_points(group=GROUP)}


_LOADED: dict[tuple[str, str], Handler] = {}  # (name, entry point) -> the handler


def load(name: str) -> Handler:
    """The handler ``name``, loaded once per process; a one-line ``CiError`` naming it if
    it is missing or broken (tried again on the next call)."""
    ep = available().get(name)
    if ep is not None and (name, ep.value) in _LOADED:
        return _LOADED[name, ep.value]
    if ep is None:
        known = ", ".join(sorted(available())) or "none"
        raise CiError(
            f"no CI handler {name!r} is installed (known: {known}); fix the index's "
            "pipl_handlers or install the packl that provides it"
        )
    try:
        obj = ep.load()
        handler: Handler = obj() if isinstance(obj, type) else obj
        for attr in ("rank", "per_file", "run", "accepts"):
            getattr(handler, attr)
    except Exception as exc:
        raise CiError(
            f"CI handler {name!r} ({ep.value}) cannot be loaded: {type(exc).__name__}: {exc}"
        ) from None
    _LOADED[name, ep.value] = handler
    return handler


def is_sdist(filename: str) -> bool:
    return filename.endswith(SDIST_SUFFIXES)
