"""Entry points of the running environment, scanned once and cached.

Every lookup of services, asset types, products, task types and envsets goes through one
``EntryPointIndex``: the installed distributions' metadata and entry points are read on
first use and never again in the process, unless ``refresh()`` is called after installing
something. Entry points are read with importlib.metadata's own parsing
(``dist.entry_points``). A hand-written ``entry_points.txt`` parser was measured against it
(``python bench/run.py lookup``, the same index built both ways in one run, 203
distributions): it saved 4.5 ms of a 57 ms first scan (8%; 8 to 12% over four runs),
about 0.02 ms per distribution, while the first lookups stay near 70 ms (target: under
100 ms). Too little to keep a second parser of the format.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from pipl_pipe.errors import PluginError


@dataclass(frozen=True)
class Plugin:
    """One entry point and the distribution (packl) that declares it."""

    group: str
    name: str
    value: str
    dist: str
    version: str

    def load(self) -> Any:
        """Import the object; a broken plugin raises ``PluginError`` naming itself."""
        module, _, attrs = self.value.partition(":")
        try:
            obj: Any = importlib.import_module(module.strip())
            for attr in filter(None, attrs.strip().split(".")):
                obj = getattr(obj, attr)
        except Exception as exc:
            raise PluginError(
                f"entry point {self.name!r} of group {self.group} in {self.dist} "
                f"{self.version} ({self.value}) failed to load: {type(exc).__name__}: {exc}"
            ) from exc
        return obj

    def __str__(self) -> str:
        return f"{self.dist} ({self.group}: {self.name} = {self.value})"


class EntryPointIndex:
    """All entry points of the distributions on ``path`` (default ``sys.path``)."""

    def __init__(self, path: Iterable[str] | None = None) -> None:
        self.path = list(path) if path is not None else None
        self._groups: dict[str, list[Plugin]] | None = None
        self._requires: dict[str, list[str]] = {}

    def _scan(self) -> dict[str, list[Plugin]]:
        groups: dict[str, list[Plugin]] = {}
        self._requires = {}
        dists = md.distributions(path=self.path) if self.path is not None else md.distributions()
        for dist in dists:
            meta = dist.metadata
            name = meta["Name"] if meta else None
            if not name:
                continue
            key = normalize(name)
            if key in self._requires:  # the first one on the path wins, like imports
                continue
            self._requires[key] = list(meta.get_all("Requires-Dist") or [])
            for group, ep_name, value in self._entry_points(dist):
                groups.setdefault(group, []).append(
                    Plugin(group, ep_name, value, name, dist.version)
                )
        return groups

    def _entry_points(self, dist: md.Distribution) -> Iterable[tuple[str, str, str]]:
        """(group, name, value) of each entry point ``dist`` declares; none when its
        ``entry_points.txt`` cannot be parsed (a line without ``=``), so that one broken
        distribution does not hide every other one's plugins."""
        try:
            return [(ep.group.strip(), ep.name, ep.value) for ep in dist.entry_points]
        except (TypeError, ValueError):
            return ()

    def group(self, group: str) -> list[Plugin]:
        if self._groups is None:
            self._groups = self._scan()
        return list(self._groups.get(group, []))

    def requires(self, dist: str) -> list[str]:
        """The ``Requires-Dist`` lines of an installed distribution ([] if absent)."""
        if self._groups is None:
            self._groups = self._scan()
        return list(self._requires.get(normalize(dist), []))

    def distributions(self) -> list[str]:
        if self._groups is None:
            self._groups = self._scan()
        return sorted(self._requires)

    def refresh(self) -> None:
        self._groups = None


def normalize(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def default_index() -> EntryPointIndex:
    """The index of this process's ``sys.path`` (built on first use)."""
    return EntryPointIndex(sys.path)
