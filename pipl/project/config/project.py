"""``[project]``, ``[server]`` and ``[stages]``: ``ProjectConfig``, checked whenever a
project is loaded, and written by ``pipl proj create`` (``to_toml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipl import names
from pipl.errors import UsageError
from pipl.project.config.keys import unknown_keys
from pipl.project.config.server import (
    STORAGES,
    PostgresConfig,
    check_primary_url,
    check_server_args,
)
from pipl.project.config.values import SettingError, table_of, text_list

DEFAULT_PORT = 3141
DEFAULT_STAGES = ("dev", "qa", "prod")


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
