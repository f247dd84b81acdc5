"""Rendering packl templates (``templates/<kind>/`` on top of ``templates/_common/``)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pipl.errors import PacklError

COMMON = "_common"
SUFFIX = ".tmpl"


def templates_dir() -> Path:
    """Templates shipped in the pipl wheel, or the source checkout's ``templates/``."""
    import pipl

    here = Path(pipl.__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / COMMON).is_dir():
            return candidate
    raise PacklError("pipl's packl templates are missing from its installation; reinstall pipl")


def available_kinds() -> list[str]:
    return sorted(
        p.name for p in templates_dir().iterdir() if p.is_dir() and not p.name.startswith("_")
    )


def _fill(text: str, context: dict[str, str]) -> str:
    for key, value in context.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def entry_points_toml(spec: dict[str, Any]) -> str:
    """The ``[project.scripts]`` and ``[project.entry-points.*]`` tables of a template spec."""
    import tomlkit

    doc = tomlkit.document()
    project = tomlkit.table(is_super_table=True)
    if spec.get("scripts"):
        project["scripts"] = dict(spec["scripts"])
    groups = spec.get("entry-points") or {}
    if groups:
        eps = tomlkit.table(is_super_table=True)
        for group, entries in groups.items():
            eps[group] = dict(entries)
        project["entry-points"] = eps
    if not project:
        return ""
    doc["project"] = project
    text = tomlkit.dumps(doc).strip()
    return "\n" + re.sub(r"\n+(?=\[)", "\n\n", text) + "\n"


def render(kind: str, dest: Path, context: dict[str, str]) -> dict[str, Any]:
    """Write the files of ``kind`` into ``dest``; return its ``template.toml`` data, filled."""
    root = templates_dir()
    folder = root / kind
    if not folder.is_dir() or kind.startswith("_"):
        raise PacklError(f"no template for kind {kind!r}; kinds: {', '.join(available_kinds())}")
    spec_file = folder / "template.toml"
    spec = tomllib.loads(_fill(spec_file.read_text(), context)) if spec_file.is_file() else {}
    context = {**context, "entry_points": entry_points_toml(spec)}
    for layer in (root / COMMON, folder):
        for src in sorted(layer.rglob(f"*{SUFFIX}")):
            relative = src.relative_to(layer).as_posix()[: -len(SUFFIX)]
            target = dest / relative.replace("__module__", context["module"])
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_fill(src.read_text(), context))
    return spec
