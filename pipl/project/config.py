"""``pipl.toml``: the project's marker file and its settings."""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipl import names
from pipl.errors import ProjectError, UsageError

FILENAME = "pipl.toml"
DEFAULT_PORT = 3141
DEFAULT_STAGES = ("dev", "qa", "prod")

# The keys pipl reads in its own tables; another key there is most likely a typo.
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "project": ("name",),
    "server": ("host", "port", "pypi_mirror", "args", "storage", "postgresql", "primary_url"),
    "stages": ("order",),
}
# Top-level tables read by pipl or pipl-pipe; other tables are left alone unless their
# name is close to one of these.
KNOWN_TABLES = (*KNOWN_KEYS, "ci", "web", "services", "config", "reviews")

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
            raise TypeError("[server.postgresql] port must be an integer")
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
            raise TypeError("[server] postgresql must be a table ([server.postgresql])")
        unknown = sorted(set(data) - {"host", "port", "database", "user", "password"})
        if unknown:
            raise KeyError(
                f"unknown key {unknown[0]!r} in [server.postgresql] (known: host, port, "
                "database, user)"
            )
        if "password" in data:
            raise ValueError(
                "[server.postgresql] may not hold the password: remove it from pipl.toml; "
                "it belongs in .pipl/secrets/postgresql-password, a 0600 file"
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


def unknown_keys(data: dict[str, Any]) -> list[str]:
    """Warnings for keys pipl does not know in its tables, naming the close match."""
    warnings = []
    for table, value in data.items():
        if table not in KNOWN_TABLES:
            close = difflib.get_close_matches(table, KNOWN_TABLES, n=1)
            if close:
                warnings.append(
                    f"unknown table [{table}] in {FILENAME} (did you mean [{close[0]}]?)"
                )
            continue
        known = KNOWN_KEYS.get(table)
        if known is None or not isinstance(value, dict):
            continue
        for key in value:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = (
                    f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
                )
                warnings.append(f"unknown key {key!r} in [{table}] of {FILENAME}{hint}")
    return warnings


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
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ProjectError(f"{path} is missing: is this a pipl project?") from None
        except tomllib.TOMLDecodeError as exc:
            raise ProjectError(f"{path} is not valid TOML ({exc}); fix the file") from None
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError, UsageError) as exc:
            raise ProjectError(f"{path}: {exc}; fix the file") from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjectConfig:
        project = data.get("project", {})
        server = data.get("server", {})
        stages = data.get("stages", {})
        if "name" not in project:
            raise KeyError("[project] name is missing")
        args = server.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise TypeError("[server] args must be a list of strings")
        order = stages.get("order", list(DEFAULT_STAGES))
        if not isinstance(order, list):
            raise TypeError("[stages] order must be a list of stage names")
        port = server.get("port", DEFAULT_PORT)
        if not isinstance(port, int) or isinstance(port, bool):
            raise TypeError("[server] port must be an integer")
        storage = server.get("storage", "sqlite")
        if not isinstance(storage, str):
            raise TypeError('[server] storage must be a string ("sqlite" or "postgresql")')
        pg = server.get("postgresql")
        primary = server.get("primary_url")
        if primary is not None and not isinstance(primary, str):
            raise TypeError("[server] primary_url must be a string")
        return cls(
            name=project["name"],
            host=str(server.get("host", "127.0.0.1")),
            port=port,
            pypi_mirror=bool(server.get("pypi_mirror", True)),
            stages=tuple(order),
            server_args=tuple(args),
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
