"""The ``[ci]`` table of ``pipl.toml``: handlers per stage, runner settings, webhooks.

::

    [ci]
    workers = 2                 # jobs run at once
    timeout = 600               # seconds a job may run
    retries = 3                 # attempts after an infrastructure error
    executor = "local"          # "dask": handlers with a worker part build on a Dask cluster
    scheduler = "tcp://farm:8786"   # the Dask scheduler (needed with executor = "dask")
    [ci.resources]              # Dask worker resources a handler's jobs ask for
    wheel = {abi-cp312 = 1}     # (dask worker --resources "abi-cp312=1")
    [ci.handlers]               # per stage (defaults shown)
    dev = ["qa", "wheel", "promote"]
    qa = ["process", "promote"]
    [ci.webhook]
    urls = ["https://ci.example/hook"]   # each receives every event of a handled index
    [ci.sandbox]                # where code from the index runs (pipl.ci.sandbox)
    enabled = true              # false: unsandboxed, with a warning in every status
    network = true              # false: tests and processing run with no network
    memory_mb = 4096            # per process
    processes = 1024            # of the runner's OS user
    file_size_mb = 4096         # largest file written
    landlock = true             # where the kernel has it: writes only in its own folders
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipl import names
from pipl.ci.sandbox import SandboxConfig, parse_config
from pipl.errors import ProjectError
from pipl.project.config import FILENAME
from pipl.project.project import Project

DEFAULT_HANDLERS: dict[str, tuple[str, ...]] = {
    "dev": ("qa", "wheel", "promote"),
    "qa": ("process", "promote"),
}
CI_USER_SUFFIX = "-ci"
WEBHOOK_SECRET = "ci-webhook.secret"  # noqa: S105 - a file name, not a secret


@dataclass(frozen=True)
class CiConfig:
    workers: int = 2
    timeout: float = 600.0
    retries: int = 3
    handlers: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_HANDLERS))
    webhook_urls: tuple[str, ...] = ()
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    executor: str = "local"
    scheduler: str = ""
    resources: dict[str, dict[str, float]] = field(default_factory=dict)  # handler -> ask

    def stage_handlers(self, stage: str) -> list[str]:
        return list(self.handlers.get(stage, ()))


def load_ci_config(project: Project) -> CiConfig:
    """The ``[ci]`` table of the project's ``pipl.toml`` (defaults when absent)."""
    path = project.root / FILENAME
    try:
        data = tomllib.loads(path.read_text()).get("ci", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(f"{path}: cannot read the [ci] table ({exc}); fix the file") from None
    try:
        return _parse(data)
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"{path}: [ci] {exc}; fix the file") from None


def _parse(data: dict[str, Any]) -> CiConfig:
    if not isinstance(data, dict):
        raise TypeError("must be a table")
    handlers = dict(DEFAULT_HANDLERS)
    for stage, value in (data.get("handlers") or {}).items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"handlers.{stage} must be a list of handler names")
        for name in value:
            names.check_simple(name, "handler")
        handlers[stage] = tuple(value)
    urls = (data.get("webhook") or {}).get("urls", [])
    if not isinstance(urls, list) or not all(
        isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls
    ):
        raise TypeError("webhook.urls must be a list of http(s) URLs")
    workers = data.get("workers", 2)
    timeout = data.get("timeout", 600)
    retries = data.get("retries", 3)
    if not isinstance(workers, int) or not 1 <= workers <= 64:
        raise ValueError("workers must be an integer from 1 to 64")
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError("timeout must be a positive number of seconds")
    if not isinstance(retries, int) or retries < 0:
        raise ValueError("retries must be a non-negative integer")
    executor, scheduler = _executor(data)
    return CiConfig(
        workers=workers,
        timeout=float(timeout),
        retries=retries,
        handlers=handlers,
        webhook_urls=tuple(urls),
        sandbox=parse_config(data.get("sandbox")),
        executor=executor,
        scheduler=scheduler,
        resources=_resources(data.get("resources") or {}),
    )


EXECUTORS = ("local", "dask")


def _executor(data: dict[str, Any]) -> tuple[str, str]:
    """``executor`` and ``scheduler``: a Dask executor needs a scheduler's address."""
    executor = data.get("executor", "local")
    scheduler = data.get("scheduler", "")
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")
    if not isinstance(scheduler, str) or (
        scheduler and not scheduler.startswith(("tcp://", "tls://", "inproc://"))
    ):
        raise ValueError("scheduler must be a Dask address such as tcp://HOST:8786")
    if executor == "dask" and not scheduler:
        raise ValueError('executor = "dask" needs scheduler = "tcp://HOST:PORT"')
    return executor, scheduler


def _resources(data: Any) -> dict[str, dict[str, float]]:
    """``[ci.resources]``: handler -> {resource: amount} (Dask worker resources)."""
    if not isinstance(data, dict):
        raise TypeError("resources must be a table of handler = {resource = amount}")
    found: dict[str, dict[str, float]] = {}
    for handler, ask in data.items():
        names.check_simple(handler, "handler")
        if not isinstance(ask, dict) or not all(
            isinstance(v, (int, float)) and v > 0 for v in ask.values()
        ):
            raise TypeError(f"resources.{handler} must be a table of resource = positive amount")
        found[handler] = {names.check_simple(k, "resource"): float(v) for k, v in ask.items()}
    return found


def ci_user(project: Project) -> str:
    """The devpi user the runner acts as."""
    return names.check_user(f"{project.owner}{CI_USER_SUFFIX}")


def webhook_secret_file(project: Project) -> Path:
    return project.secrets.path / WEBHOOK_SECRET


def ensure_ci_secrets(project: Project) -> None:
    """Generate the CI user's password and the webhook secret (0600 files) if missing."""
    import secrets as random

    from pipl.fsutil import write_private

    store = project.secrets
    if store.password(ci_user(project)) is None:
        store.set_password(ci_user(project), random.token_urlsafe(24))
    secret = webhook_secret_file(project)
    if not secret.exists():
        write_private(secret, random.token_urlsafe(32) + "\n")
