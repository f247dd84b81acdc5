"""Installed-looking distributions written straight into a folder put on ``sys.path``.

Framework lookups (entry points, requirements) read real ``.dist-info`` metadata through
importlib.metadata; these fakes make tests of plugin precedence and conflicts fast.
"""

from __future__ import annotations

import sys
from pathlib import Path


def make_dist(
    site: Path,
    name: str,
    version: str = "1.0",
    *,
    entry_points: dict[str, dict[str, str]] | None = None,
    modules: dict[str, str] | None = None,
    requires: list[str] | None = None,
) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires or []]
    (info / "METADATA").write_text("\n".join(meta) + "\n")
    if entry_points:
        text = "".join(
            f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
            for group, eps in entry_points.items()
        )
        (info / "entry_points.txt").write_text(text)
    for module, source in (modules or {}).items():
        path = site / (module.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


def forget_modules(prefix: str) -> None:
    for name in [m for m in sys.modules if m.split(".")[0] == prefix]:
        del sys.modules[name]
