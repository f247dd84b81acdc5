"""Named services loaded lazily from the ``pipl_pipe.services`` entry points.

A service N is made by calling its factory (the entry point's object) with config N (see
``pipl_pipe.config``) the first time it is asked for, then kept.

Which factory? One rule: an installed packl's provider replaces pipl-pipe's built-in one;
two packls providing N is an error naming both, unless the project's ``pipl.toml`` picks
one::

    [services]
    asset_store = "studio-store"     # the distribution whose provider wins

Usage::

    from pipl_pipe.services import get_services
    store = get_services().asset_store
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from pipl_pipe.config import Configs, choose, find_project_root
from pipl_pipe.entrypoints import EntryPointIndex, Plugin, default_index
from pipl_pipe.errors import PluginError, ServiceError

SERVICES_GROUP = "pipl_pipe.services"


class Services:
    """The service registry of one environment (and one project)."""

    def __init__(
        self, index: EntryPointIndex | None = None, project_root: Path | None = None
    ) -> None:
        self.index = index or default_index()
        self.project_root = project_root if project_root is not None else find_project_root()
        self.configs = Configs(self.index, self.project_root)
        self._made: dict[str, Any] = {}

    def names(self) -> list[str]:
        return sorted({p.name for p in self.index.group(SERVICES_GROUP)} | {"config"})

    def provider(self, name: str) -> Plugin:
        """The entry point that makes service ``name`` (by the rule above)."""
        plugins = [p for p in self.index.group(SERVICES_GROUP) if p.name == name]
        chosen = choose(plugins, f"service {name}", self.configs.choices.get(name))
        if chosen is None:
            raise ServiceError(
                f"no service {name!r}: install a packl that provides it "
                f"(known services: {', '.join(self.names())})"
            )
        return chosen

    def get(self, name: str) -> Any:
        if name == "config":
            return self.configs
        if name not in self._made:
            plugin = self.provider(name)
            factory = plugin.load()
            try:
                self._made[name] = factory(self.configs.get(name))
            except (ServiceError, PluginError):
                raise
            except Exception as exc:
                raise ServiceError(
                    f"service {name!r} from {plugin} failed to start: {type(exc).__name__}: {exc}"
                ) from exc
        return self._made[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.get(name)


@cache
def get_services() -> Services:
    """The services of this process (made on first use, from ``sys.path``)."""
    return Services()
