"""``docs/architecture.md`` tells only what the code has: every module, class or function
it names is there, and the layers it draws are those import-linter checks, in order."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"


def _named() -> list[str]:
    """The dotted names the page gives in backquotes (``pipl.ci.runner.CiRunner``)."""
    return sorted(set(re.findall(r"`(pipl(?:_pipe)?(?:\.[A-Za-z_]\w*)+)", DOC.read_text())))


def _resolve(dotted: str) -> object:
    """The module, or the attribute of the longest module prefix, that ``dotted`` names."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            found = getattr(found, attr)
        return found
    raise ModuleNotFoundError(dotted)


def test_every_name_on_the_architecture_page_is_in_the_code() -> None:
    named = _named()
    missing = []
    for name in named:
        try:
            _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert len(named) > 30 and missing == []


def test_the_layers_drawn_are_the_layers_checked() -> None:
    block = DOC.read_text().split("```", 2)[1]
    drawn = [
        " | ".join(re.findall(r"\bpipl\.[a-z_]+\b(?=\s{2,}|$)", line))
        for line in block.splitlines()
    ]
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [layers] = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    assert [d for d in drawn if d] == layers
