"""``pipl.toml``: the project's marker file, and the one model of everything it says.

The file is read in one place (``PiplToml.read``) and each table has one typed model here:
``[project]``, ``[server]`` and ``[stages]`` (``ProjectConfig``, checked whenever a project
is loaded), ``[ci]`` (``CiConfig``, ``SandboxConfig``), ``[web]`` (``WebConfig``),
``[gates.STAGE]`` (``Gate``), ``[reviews]`` (``ReviewConfig``) and ``[qa]``
(``QaSettings``), each checked when the code that needs it asks for it, so that a typo in
``[gates]`` does not stop ``pipl proj stop``. ``[services]`` and ``[config.NAME]`` belong
to pipl-pipe (``pipl_pipe.config``), which reads them itself.

A bad value is a ``SettingError`` naming the table and the key (``[ci] workers must be an
integer from 1 to 64``); ``PiplToml`` turns it into one ``ProjectError`` line with the
file's path. An unknown key is looked up in one place (``unknown_in``): in a table that
guards something (``STRICT_TABLES``) it is an error, elsewhere a warning the CLI shows.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pipl import names
from pipl.errors import ProjectError, UsageError

FILENAME = "pipl.toml"
DEFAULT_PORT = 3141
DEFAULT_STAGES = ("dev", "qa", "prod")

# The keys of each of pipl's tables (``gates.*``: any stage's); another key there is most
# likely a typo.
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "project": ("name",),
    "server": ("host", "port", "pypi_mirror", "args", "storage", "postgresql", "primary_url"),
    "stages": ("order",),
    "ci": (
        "workers",
        "timeout",
        "retries",
        "handlers",
        "webhook",
        "sandbox",
        "executor",
        "scheduler",
        "resources",
    ),
    "ci.webhook": ("urls",),
    "ci.sandbox": ("enabled", "network", "memory_mb", "processes", "file_size_mb", "landlock"),
    "web": ("host", "port", "enabled"),
    "gates.*": ("qa", "wheel", "processing", "approvals", "reviewers"),
    "reviews": ("reviewers", "self_approval"),
    "qa": ("checks", "contracts"),
}
# Top-level tables read by pipl or pipl-pipe; other tables are left alone unless their
# name is close to one of these. ``[services]``, ``[config]`` and ``[ci.handlers]`` take
# names the user chooses.
KNOWN_TABLES: tuple[str, ...] = (
    *("project", "server", "stages", "ci", "web", "gates", "reviews", "qa"),
    *("services", "config"),
)
# Tables where a misspelt key would quietly weaken a check: an error, not a warning.
STRICT_TABLES = ("ci.sandbox", "gates.*", "qa")

# devpi-server flags pipl sets itself: the server's address, its data and secrets, and who
# may modify users and indexes. ``[server] args`` may not change them (devpi's argparse
# also takes any unambiguous prefix, e.g. ``--serverd``).
RESERVED_FLAGS = (
    "--host",
    "--port",
    "--listen",
    "--unix-socket",
    "--serverdir",
    "--secretfile",
    "--restrict-modify",
    "--configfile",
    "--passwd",
    "--root-passwd",
    "--root-passwd-hash",
    "--storage",
    "--primary-url",
)
_FLAG_HINTS = {
    "--storage": 'set [server] storage = "postgresql" and [server.postgresql]',
    "--primary-url": "make a replica with 'pipl proj replica PATH --primary-url URL'",
}
STORAGES = ("sqlite", "postgresql")
_PG_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}")
_HOST = re.compile(r"[A-Za-z0-9_.:-]{1,253}")
_URL = re.compile(r"https?://[A-Za-z0-9_.:\[\]-]+(/[A-Za-z0-9_./~-]*)?")


@dataclass(frozen=True)
class PostgresConfig:
    """Where devpi keeps the project's index when ``[server] storage = "postgresql"``
    (``[server.postgresql]``). The password is not here: it lives in a 0600 file under
    ``.pipl/secrets``."""

    host: str = "127.0.0.1"
    port: int = 5432
    database: str = "devpi"
    user: str = "devpi"

    def __post_init__(self) -> None:
        if not _HOST.fullmatch(self.host):
            raise UsageError(f"invalid PostgreSQL host {self.host!r}: use a host name or address")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise SettingError("server.postgresql", "port", "must be an integer")
        if not (1 <= self.port <= 65535):
            raise UsageError(f"invalid PostgreSQL port {self.port}: use a number from 1 to 65535")
        for what, value in (("database", self.database), ("user", self.user)):
            if not isinstance(value, str) or not _PG_NAME.fullmatch(value):
                raise UsageError(
                    f"invalid PostgreSQL {what} name {value!r}: use letters, digits, '_', "
                    "'.' or '-'"
                )

    @classmethod
    def from_dict(cls, data: dict[str, Any], project: str) -> PostgresConfig:
        """The table's values; database and user default to the project's name."""
        if not isinstance(data, dict):
            raise SettingError("server", "postgresql", "must be a table ([server.postgresql])")
        if "password" in data:
            raise SettingError(
                "server.postgresql",
                "",
                "may not hold the password: remove it from pipl.toml; it belongs in "
                ".pipl/secrets/postgresql-password, a 0600 file",
            )
        unknown = sorted(set(data) - {"host", "port", "database", "user"})
        if unknown:
            raise SettingError(
                "server.postgresql",
                unknown[0],
                "is not a setting (known: host, port, database, user)",
            )
        return cls(
            host=str(data.get("host", cls.host)),
            port=data.get("port", cls.port),
            database=str(data.get("database", project)),
            user=str(data.get("user", project)),
        )


def check_primary_url(url: str) -> str:
    """A replica's primary: an http(s) URL without credentials, query or spaces."""
    if not isinstance(url, str) or not _URL.fullmatch(url):
        raise UsageError(
            f"invalid primary URL {url!r}: use http(s)://HOST:PORT of the primary's server"
        )
    return url.rstrip("/")


T = TypeVar("T")


class SettingError(TypeError, ValueError):
    """One bad value in ``pipl.toml``: ``[TABLE] KEY WHAT`` (a wrong type or a value out
    of range alike; callers that caught either before still catch it)."""

    def __init__(self, table: str, key: str, what: str) -> None:
        self.table, self.key = table, key
        super().__init__(f"[{table}] {key} {what}" if key else f"[{table}] {what}")


def reserved_flag(arg: str) -> str | None:
    """The pipl-owned devpi-server flag ``arg`` would set, or None."""
    if arg.startswith("-c"):  # -c FILE, -cFILE
        return "--configfile"
    if not arg.startswith("--") or len(arg) < 3:
        return None
    name = arg.split("=", 1)[0]
    for flag in RESERVED_FLAGS:
        if flag.startswith(name):  # the flag itself, or a prefix devpi would expand to it
            return flag
    return None


def check_server_args(args: tuple[str, ...] | list[str]) -> None:
    """Refuse extra devpi-server arguments that would override pipl's own flags."""
    for arg in args:
        flag = reserved_flag(arg)
        if flag is not None:
            hint = _FLAG_HINTS.get(
                flag,
                "set host and port in [server]; the server folder and secrets stay under .pipl",
            )
            raise UsageError(
                f"[server] args may not contain {arg!r}: pipl sets {flag} itself ({hint})"
            )


# -- the unknown-key check --------------------------------------------------------------
def _known(table: str) -> tuple[str, ...]:
    return KNOWN_KEYS.get(table) or KNOWN_KEYS.get(f"{table.split('.')[0]}.*", ())


def _strict(table: str) -> bool:
    return table in STRICT_TABLES or f"{table.split('.')[0]}.*" in STRICT_TABLES


def unknown_in(table: str, data: dict[str, Any]) -> list[tuple[str, str]]:
    """The keys of ``data`` (the table ``table``, e.g. ``gates.prod``) that pipl does not
    know, each with a hint: the close match, else the known keys."""
    known = _known(table)
    found = []
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            found.append(
                (key, f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}")
            )
    return found


def check_known(table: str, data: dict[str, Any]) -> None:
    """Refuse the first unknown key of a strict table."""
    for key, hint in unknown_in(table, data)[:1]:
        raise SettingError(table, key, f"is not a setting ({hint})")


def _tables(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """pipl's tables in ``data`` (a whole file), with their dotted names."""
    found = []
    for name, value in data.items():
        if name not in KNOWN_TABLES or not isinstance(value, dict):
            continue
        if name == "gates":
            found += [(f"gates.{s}", t) for s, t in value.items() if isinstance(t, dict)]
            continue
        if name in KNOWN_KEYS:
            found.append((name, value))
        for sub in ("webhook", "sandbox") if name == "ci" else ():
            if isinstance(value.get(sub), dict):
                found.append((f"ci.{sub}", value[sub]))
    return found


def unknown_keys(data: dict[str, Any]) -> list[str]:
    """Warnings for what pipl does not know in ``data`` (a whole ``pipl.toml``): misspelt
    table names and keys. A strict table's unknown keys are left to ``check_known``, which
    refuses them when that table is read."""
    warnings = []
    for table in data:
        if table not in KNOWN_TABLES:
            close = difflib.get_close_matches(table, KNOWN_TABLES, n=1)
            if close:
                warnings.append(
                    f"unknown table [{table}] in {FILENAME} (did you mean [{close[0]}]?)"
                )
    for table, value in _tables(data):
        if not _strict(table):
            warnings += [
                f"unknown key {key!r} in [{table}] of {FILENAME} ({hint})"
                for key, hint in unknown_in(table, value)
            ]
    return warnings


# -- values -------------------------------------------------------------------------------
def table_of(data: Any, table: str) -> dict[str, Any]:
    """``data`` if it is a table (absent: an empty one)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingError(table, "", "must be a table")
    return data


def flag(data: dict[str, Any], table: str, key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise SettingError(table, key, "must be true or false")
    return value


def integer(data: dict[str, Any], table: str, key: str, default: int, lo: int, hi: int) -> int:
    """A whole number from ``lo`` to ``hi`` (``hi`` < 0: no upper bound)."""
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < lo or value > hi >= 0:
        if hi >= 0:
            raise SettingError(table, key, f"must be an integer from {lo} to {hi}")
        what = "a positive integer" if lo == 1 else f"an integer of {lo} or more"
        raise SettingError(table, key, f"must be {what}")
    return value


def text(data: dict[str, Any], table: str, key: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise SettingError(table, key, "must be text")
    return value


def text_list(data: dict[str, Any], table: str, key: str, what: str) -> list[str]:
    """A list of text (``what``: what its items are, for the message)."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SettingError(table, key, f"must be a list of {what}")
    return value


def checked_names(
    values: Sequence[str], table: str, key: str, check: Callable[[str], str]
) -> tuple[str, ...]:
    """``values`` passed through ``check`` (a ``pipl.names`` check)."""
    try:
        return tuple(check(v) for v in values)
    except UsageError as exc:
        raise SettingError(table, key, f"lists a bad name ({exc})") from None


# -- [project], [server], [stages] ------------------------------------------------------
@dataclass(frozen=True)
class ProjectConfig:
    """What ``pipl.toml`` says. The project name also names the devpi user owning its indexes."""

    name: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    pypi_mirror: bool = True
    stages: tuple[str, ...] = DEFAULT_STAGES
    server_args: tuple[str, ...] = field(default=())
    # where devpi keeps the index: its default SQLite file, or PostgreSQL
    storage: str = "sqlite"
    postgresql: PostgresConfig | None = None
    # set when this project's server is a replica of another one (writes go to that one)
    primary_url: str | None = None
    # what pipl noticed while reading pipl.toml (unknown keys); the CLI shows them
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        names.check_simple(self.name, "project")
        names.check_stages(list(self.stages))
        if not (1 <= self.port <= 65535):
            raise UsageError(f"invalid port {self.port}: use a number from 1 to 65535")
        check_server_args(self.server_args)
        if self.storage not in STORAGES:
            raise UsageError(
                f"unknown [server] storage {self.storage!r}: use one of {', '.join(STORAGES)}"
            )
        if self.storage == "postgresql" and self.postgresql is None:
            pg = PostgresConfig(database=self.name, user=self.name)
            object.__setattr__(self, "postgresql", pg)
        if self.primary_url is not None:
            object.__setattr__(self, "primary_url", check_primary_url(self.primary_url))

    @property
    def is_replica(self) -> bool:
        return self.primary_url is not None

    @classmethod
    def load(cls, path: Path) -> ProjectConfig:
        return PiplToml.read(path).project()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjectConfig:
        project = table_of(data.get("project"), "project")
        server = table_of(data.get("server"), "server")
        stages = table_of(data.get("stages"), "stages")
        if "name" not in project:
            raise SettingError("project", "name", "is missing: name the project")
        order = stages.get("order", list(DEFAULT_STAGES))
        if not isinstance(order, list):
            raise SettingError("stages", "order", "must be a list of stage names")
        port = server.get("port", DEFAULT_PORT)
        if not isinstance(port, int) or isinstance(port, bool):
            raise SettingError("server", "port", "must be an integer")
        storage = server.get("storage", "sqlite")
        if not isinstance(storage, str):
            raise SettingError("server", "storage", 'must be "sqlite" or "postgresql"')
        pg = server.get("postgresql")
        primary = server.get("primary_url")
        if primary is not None and not isinstance(primary, str):
            raise SettingError("server", "primary_url", "must be a URL (a string)")
        return cls(
            name=project["name"],
            host=str(server.get("host", "127.0.0.1")),
            port=port,
            pypi_mirror=bool(server.get("pypi_mirror", True)),
            stages=tuple(order),
            server_args=tuple(text_list(server, "server", "args", "strings")),
            storage=storage,
            postgresql=None if pg is None else PostgresConfig.from_dict(pg, project["name"]),
            primary_url=primary,
            warnings=tuple(unknown_keys(data)),
        )

    def to_toml(self) -> str:
        import tomlkit

        doc = tomlkit.document()
        doc.add(tomlkit.comment("pipl project: this file marks the project's root folder."))
        doc.add("project", tomlkit.table().add("name", self.name))
        server = tomlkit.table()
        server.add("host", self.host)
        server.add("port", self.port)
        server.add(tomlkit.comment("serve devpi's mirror of PyPI as root/pypi, the base of all"))
        server.add("pypi_mirror", self.pypi_mirror)
        server.add(tomlkit.comment('extra devpi-server arguments, e.g. ["--outside-url", URL]'))
        server.add("args", list(self.server_args))
        if self.primary_url is not None:
            server.add(tomlkit.comment("this server is a replica of that one"))
            server.add("primary_url", self.primary_url)
        server.add(tomlkit.comment('where devpi keeps the index: "sqlite" or "postgresql"'))
        server.add("storage", self.storage)
        if self.postgresql is not None:
            pg = tomlkit.table()
            pg.add(tomlkit.comment("the password is in .pipl/secrets/postgresql-password"))
            pg.add("host", self.postgresql.host)
            pg.add("port", self.postgresql.port)
            pg.add("database", self.postgresql.database)
            pg.add("user", self.postgresql.user)
            server.add("postgresql", pg)
        doc.add("server", server)
        stages = tomlkit.table()
        stages.add(tomlkit.comment("first stage first; each stage inherits the ones after it"))
        stages.add("order", list(self.stages))
        doc.add("stages", stages)
        return tomlkit.dumps(doc)


# -- [ci] ---------------------------------------------------------------------------------
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


# -- [web] --------------------------------------------------------------------------------
@dataclass(frozen=True)
class WebConfig:
    """``[web]``: where the runner serves the dashboard and the HTTP API."""

    host: str
    port: int
    enabled: bool = True


def parse_web(data: Any, server: ProjectConfig) -> WebConfig:
    """``[web]``; by default beside the devpi-server (its host, its port + 1)."""
    data = table_of(data, "web")
    return WebConfig(
        host=text(data, "web", "host", server.host),
        port=integer(data, "web", "port", server.port + 1, 0, 65535),
        enabled=flag(data, "web", "enabled", True),
    )


# -- [gates.STAGE] ------------------------------------------------------------------------
@dataclass(frozen=True)
class Gate:
    """``[gates.STAGE]``: what a release needs before it enters STAGE (``pipl.ci.gates``)."""

    qa: bool = False
    wheel: bool = False
    processing: bool = False
    approvals: int = 0
    reviewers: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = []
        if self.qa:
            parts.append("QA passed")
        if self.wheel:
            parts.append("a wheel")
        if self.processing:
            parts.append("processing passed")
        if self.approvals:
            who = f" by {', '.join(self.reviewers)}" if self.reviewers else ""
            parts.append(f"{self.approvals} approval(s){who}")
        return ", ".join(parts) or "nothing"


DEFAULT_GATES: dict[str, Gate] = {
    "qa": Gate(qa=True, wheel=True),
    "prod": Gate(qa=True, processing=True, approvals=1),
}


def parse_gates(data: Any, stages: Sequence[str]) -> dict[str, Gate]:
    """The gates of ``stages``: the defaults, replaced stage by stage by ``data``."""
    if data is not None and not isinstance(data, dict):
        raise SettingError("gates", "", "must be tables, one per stage")
    gates = {stage: gate for stage, gate in DEFAULT_GATES.items() if stage in stages}
    for stage, value in (data or {}).items():
        table = f"gates.{stage}"
        if stage not in stages:
            raise SettingError(table, "", f"names no stage (stages: {', '.join(stages)})")
        value = table_of(value, table)
        check_known(table, value)
        reviewers = text_list(value, table, "reviewers", "user names")
        gates[stage] = Gate(
            qa=flag(value, table, "qa", False),
            wheel=flag(value, table, "wheel", False),
            processing=flag(value, table, "processing", False),
            approvals=integer(value, table, "approvals", 0, 0, -1),
            reviewers=checked_names(reviewers, table, "reviewers", names.check_user),
        )
    return gates


# -- [reviews], [qa] ----------------------------------------------------------------------
@dataclass(frozen=True)
class ReviewConfig:
    """``[reviews]``: who may review besides a release's maintainers."""

    reviewers: tuple[str, ...] = ()
    self_approval: bool = False


def parse_reviews(data: Any) -> ReviewConfig:
    data = table_of(data, "reviews")
    reviewers = text_list(data, "reviews", "reviewers", "user names")
    return ReviewConfig(
        reviewers=checked_names(reviewers, "reviews", "reviewers", names.check_user),
        self_approval=flag(data, "reviews", "self_approval", False),
    )


@dataclass(frozen=True)
class QaSettings:
    """``[qa]``: the owner's QA checks run for every release (``pipl.ci.builtin.qa_policy``)."""

    checks: tuple[str, ...] = ()
    contracts: bool = True


def parse_qa(data: Any) -> QaSettings:
    data = table_of(data, "qa")
    check_known("qa", data)
    listed = text_list(data, "qa", "checks", "packl names on the base index")
    found = checked_names(listed, "qa", "checks", names.check_dist)
    return QaSettings(
        checks=tuple(dict.fromkeys(names.normalize_dist(c) for c in found)),
        contracts=flag(data, "qa", "contracts", True),
    )


# -- the file -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PiplToml:
    """``pipl.toml`` as read once; each method gives one table's model, checked."""

    path: Path
    data: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> PiplToml:
        try:
            return cls(path, tomllib.loads(path.read_text()))
        except FileNotFoundError:
            raise ProjectError(f"{path} is missing: is this a pipl project?") from None
        except OSError as exc:
            raise ProjectError(f"{path} cannot be read ({exc.strerror}): check it") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ProjectError(f"{path} is not valid TOML ({exc}); fix the file") from None

    @classmethod
    def of(cls, root: Path) -> PiplToml:
        """The ``pipl.toml`` of the project at ``root``."""
        return cls.read(Path(root) / FILENAME)

    def checked(self, parse: Callable[..., T], *args: Any) -> T:
        """``parse(*args)``, a bad value in one line naming the file, table and key."""
        try:
            return parse(*args)
        except (SettingError, UsageError) as exc:
            raise ProjectError(f"{self.path}: {exc}; fix the file") from None

    def project(self) -> ProjectConfig:
        return self.checked(ProjectConfig.from_dict, self.data)

    def ci(self) -> CiConfig:
        return self.checked(parse_ci, self.data.get("ci"))

    def web(self, server: ProjectConfig) -> WebConfig:
        return self.checked(parse_web, self.data.get("web"), server)

    def gates(self, stages: Sequence[str]) -> dict[str, Gate]:
        return self.checked(parse_gates, self.data.get("gates"), stages)

    def reviews(self) -> ReviewConfig:
        return self.checked(parse_reviews, self.data.get("reviews"))

    def qa(self) -> QaSettings:
        return self.checked(parse_qa, self.data.get("qa"))
