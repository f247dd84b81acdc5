"""``pipl.toml``: the project's marker file and its settings."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipl import names
from pipl.errors import ProjectError, UsageError

FILENAME = "pipl.toml"
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

    def __post_init__(self) -> None:
        names.check_simple(self.name, "project")
        names.check_stages(list(self.stages))
        if not (1 <= self.port <= 65535):
            raise UsageError(f"invalid port {self.port}: use a number from 1 to 65535")

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
        except (KeyError, TypeError, ValueError, UsageError) as exc:
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
        return cls(
            name=project["name"],
            host=str(server.get("host", "127.0.0.1")),
            port=port,
            pypi_mirror=bool(server.get("pypi_mirror", True)),
            stages=tuple(order),
            server_args=tuple(args),
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
        doc.add("server", server)
        stages = tomlkit.table()
        stages.add(tomlkit.comment("first stage first; each stage inherits the ones after it"))
        stages.add("order", list(self.stages))
        doc.add("stages", stages)
        return tomlkit.dumps(doc)
