"""``[ci]``, ``[ci.sandbox]``, ``[ci.webhook]``, ``[ci.resources]``: the CI runner's
settings (``CiConfig``) and where code from the index runs (``SandboxConfig``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipl import names
from pipl.project.config.keys import check_known
from pipl.project.config.values import (
    SettingError,
    checked_names,
    flag,
    integer,
    table_of,
    text_list,
)

DEFAULT_HANDLERS: dict[str, tuple[str, ...]] = {
    "dev": ("qa", "wheel", "promote"),
    "qa": ("process", "promote"),
}


@dataclass(frozen=True)
class SandboxConfig:
    """``[ci.sandbox]``: where code from the index runs (``pipl.ci.sandbox``)."""

    enabled: bool = True  # false: index code runs unsandboxed (status warns every time)
    network: bool = True  # false: tests, processing and pipelines run with no network
    memory_mb: int = 4096  # data segment limit of each process (RLIMIT_DATA)
    processes: int = 1024  # processes and threads of the OS user (RLIMIT_NPROC)
    file_size_mb: int = 4096  # largest file it may write (RLIMIT_FSIZE)
    landlock: bool = True  # where the kernel has it: writes only beneath its own folders


def parse_sandbox(data: Any) -> SandboxConfig:
    table = "ci.sandbox"
    data = table_of(data, table)
    check_known(table, data)
    default = SandboxConfig()
    return SandboxConfig(
        enabled=flag(data, table, "enabled", True),
        network=flag(data, table, "network", True),
        memory_mb=integer(data, table, "memory_mb", default.memory_mb, 1, -1),
        processes=integer(data, table, "processes", default.processes, 1, -1),
        file_size_mb=integer(data, table, "file_size_mb", default.file_size_mb, 1, -1),
        landlock=flag(data, table, "landlock", True),
    )


@dataclass(frozen=True)
class CiConfig:
    """``[ci]``: the runner's settings and the handlers each stage runs."""

    workers: int = 2
    timeout: float = 600.0
    retries: int = 3
    handlers: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_HANDLERS))
    webhook_urls: tuple[str, ...] = ()
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    executor: str = "local"  # where jobs run: here, or on a Dask cluster ("dask")
    scheduler: str = ""  # the Dask scheduler's address
    resources: dict[str, dict[str, float]] = field(default_factory=dict)  # handler -> ask

    def stage_handlers(self, stage: str) -> list[str]:
        return list(self.handlers.get(stage, ()))


def parse_ci(data: Any) -> CiConfig:
    data = table_of(data, "ci")
    handlers = dict(DEFAULT_HANDLERS)
    for stage, value in table_of(data.get("handlers"), "ci.handlers").items():
        listed = text_list({stage: value}, "ci.handlers", stage, "handler names")
        handlers[stage] = checked_names(
            listed, "ci.handlers", stage, lambda n: names.check_simple(n, "handler")
        )
    urls = text_list(
        table_of(data.get("webhook"), "ci.webhook"), "ci.webhook", "urls", "http(s) URLs"
    )
    if not all(u.startswith(("http://", "https://")) for u in urls):
        raise SettingError("ci.webhook", "urls", "must be a list of http(s) URLs")
    timeout = data.get("timeout", 600)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise SettingError("ci", "timeout", "must be a positive number of seconds")
    executor, scheduler = _executor(data)
    return CiConfig(
        workers=integer(data, "ci", "workers", 2, 1, 64),
        timeout=float(timeout),
        retries=integer(data, "ci", "retries", 3, 0, -1),
        handlers=handlers,
        webhook_urls=tuple(urls),
        sandbox=parse_sandbox(data.get("sandbox")),
        executor=executor,
        scheduler=scheduler,
        resources=_resources(data.get("resources")),
    )


CI_EXECUTORS = ("local", "dask")


def _executor(data: dict[str, Any]) -> tuple[str, str]:
    """``executor`` and ``scheduler``: a Dask executor needs a scheduler's address."""
    executor = data.get("executor", "local")
    scheduler = data.get("scheduler", "")
    if executor not in CI_EXECUTORS:
        raise SettingError(
            "ci", "executor", f"must be one of {', '.join(CI_EXECUTORS)}, not {executor!r}"
        )
    if not isinstance(scheduler, str) or (
        scheduler and not scheduler.startswith(("tcp://", "tls://", "inproc://"))
    ):
        raise SettingError("ci", "scheduler", "must be a Dask address such as tcp://HOST:8786")
    if executor == "dask" and not scheduler:
        raise SettingError("ci", "executor", '"dask" needs scheduler = "tcp://HOST:PORT"')
    return executor, scheduler


def _resources(data: Any) -> dict[str, dict[str, float]]:
    """``[ci.resources]``: handler -> {resource: amount} (Dask worker resources)."""
    found: dict[str, dict[str, float]] = {}
    for handler, ask in table_of(data, "ci.resources").items():
        names.check_simple(handler, "handler")
        if not isinstance(ask, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in ask.values()
        ):
            raise SettingError("ci.resources", handler, "must be a table of resource = amount > 0")
        found[handler] = {names.check_simple(k, "resource"): float(v) for k, v in ask.items()}
    return found
