"""Named configuration dicts, from entry points and the project's ``pipl.toml``.

A config named N is merged from, lowest first:

1. pipl-pipe's own ``pipl_pipe.config`` entry point N (the defaults);
2. the ``pipl_pipe.config`` entry point N of an installed packl (two packls giving N is an
   error naming both, unless ``pipl.toml`` says which one wins in ``[services]``);
3. the ``[config.N]`` table of the project's ``pipl.toml``.
"""

from __future__ import annotations

import os
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any

from pipl_pipe.entrypoints import EntryPointIndex, Plugin, normalize
from pipl_pipe.errors import PipeError, ServiceError

BUILTIN = "pipl-pipe"
CONFIG_GROUP = "pipl_pipe.config"
WORKSPACE_MARKER = "pipl-workspace.toml"


def find_project_root(start: Path | None = None) -> Path | None:
    """``$PIPL_PROJECT``, else the project at or above ``start`` (or its workspace's)."""
    if os.environ.get("PIPL_PROJECT"):
        return Path(os.environ["PIPL_PROJECT"])
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pipl.toml").is_file():
            return folder
        marker = folder / WORKSPACE_MARKER
        if marker.is_file():
            try:
                return Path(tomllib.loads(marker.read_text())["workspace"]["project"])
            except (tomllib.TOMLDecodeError, KeyError):
                return None
    return None


def read_project_settings(root: Path | None) -> dict[str, Any]:
    if root is None:
        return {}
    path = root / "pipl.toml"
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise PipeError(f"{path} is not valid TOML ({exc}); fix the file") from None


def choose(plugins: list[Plugin], what: str, chosen: str | None) -> Plugin | None:
    """The one rule for a name given by several distributions (see module doc)."""
    if chosen:
        for plugin in plugins:
            if normalize(plugin.dist) == normalize(chosen):
                return plugin
        raise ServiceError(
            f"pipl.toml [services] picks {chosen!r} for {what}, but {chosen} does not provide "
            f"it (providers: {', '.join(p.dist for p in plugins) or 'none'})"
        )
    packls = sorted((p for p in plugins if p.dist != BUILTIN), key=lambda p: p.dist)
    if len(packls) > 1:
        names = " and ".join(str(p) for p in packls)
        raise ServiceError(
            f"{what} is provided by two packls, {names}: uninstall one, or pick one in "
            f'pipl.toml, e.g. [services] {what.split()[-1]} = "{packls[0].dist}"'
        )
    if packls:
        return packls[0]
    return next((p for p in plugins if p.dist == BUILTIN), None)


class Configs:
    """Read-only access to merged configs: ``configs.get("asset_store")``."""

    def __init__(self, index: EntryPointIndex, project_root: Path | None) -> None:
        self.index = index
        self.project_root = project_root

    @cached_property
    def settings(self) -> dict[str, Any]:
        return read_project_settings(self.project_root)

    @property
    def choices(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.settings.get("services", {}).items()}

    def names(self) -> list[str]:
        found = {p.name for p in self.index.group(CONFIG_GROUP)}
        return sorted(found | set(self.settings.get("config", {})))

    def get(self, name: str) -> dict[str, Any]:
        plugins = [p for p in self.index.group(CONFIG_GROUP) if p.name == name]
        merged: dict[str, Any] = {}
        builtin = next((p for p in plugins if p.dist == BUILTIN), None)
        if builtin is not None:
            merged.update(_as_dict(builtin))
        pick = self.choices.get(name)
        if pick and not any(normalize(p.dist) == normalize(pick) for p in plugins):
            pick = None  # the picked packl provides the service, not a config of that name
        chosen = choose(plugins, f"config {name}", pick)
        if chosen is not None and chosen is not builtin:
            merged.update(_as_dict(chosen))
        merged.update(self.settings.get("config", {}).get(name, {}))
        if self.project_root is not None:
            merged.setdefault("project_root", str(self.project_root))
        return merged


def _as_dict(plugin: Plugin) -> dict[str, Any]:
    value = plugin.load()
    if callable(value):
        value = value()
    if not isinstance(value, dict):
        raise ServiceError(
            f"config entry point {plugin} must give a dict, got {type(value).__name__}"
        )
    return dict(value)
