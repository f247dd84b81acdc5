"""Finding each segment's code, its hooks, and its ``#multiplex``/``#depend`` directives.

A segment's code is, in this order: the segment packl named for it in the pipeline's
``SEGMENTS`` table; the script ``NAME.py`` in the code folder, or, as in Pipelet, the
script of a shorter name with the same root (``melt_where`` falls back to ``melt.py``,
then ``melt``...); an installed segment packl whose ``pipl_pipe.segment`` entry point has
that name (or such a root). Hooks are ``<segment>_<hook>.py`` beside the script.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipl.errors import PipelineError
from pipl.pipe.multiplex import Multiplex, parse_multiplex

SEGMENT_GROUP = "pipl_pipe.segment"
_MULTIPLEX = re.compile(r"^\s*#\s*multiplex\s+(.*?)\s*$", re.MULTILINE)
_DEPEND = re.compile(r"^\s*#\s*depend\s+(.*?)\s*$", re.MULTILINE)
_HOOK = re.compile(r"""\bhook\(\s*["']([A-Za-z0-9_]+)["']""")


@dataclass(frozen=True)
class SegmentCode:
    name: str
    source: str  # the script, or the segment packl's module source
    filename: str
    entry: str = ""  # "module:function" of a segment packl
    dist: str = ""  # the segment packl's distribution and version, "name==1.0"
    hooks: dict[str, tuple[str, str]] = field(default_factory=dict)
    depend: dict[str, bytes] = field(default_factory=dict)  # path -> content
    multiplex: Multiplex = field(default_factory=Multiplex)
    # editable and local-path code it uses: distribution name -> sha256 of its files
    sources: dict[str, str] = field(default_factory=dict)


def root_names(name: str) -> list[str]:
    """``a_b_c`` -> ``[a_b_c, a_b, a]``: Pipelet's fallback to shared code."""
    parts = name.split("_")
    return ["_".join(parts[:n]) for n in range(len(parts), 0, -1) if parts[n - 1]]


def find_code(
    name: str, code_dir: Path | None, spec: dict[str, Any], line: int, python: str | None = None
) -> SegmentCode:
    """The segment's code; none found raises ``PipelineError`` naming ``line``. Segment
    packls are looked up in the environment of ``python`` (default: this one)."""
    if "packl" in spec:
        found = _entry_point(name, [str(spec["packl"])], spec, python)
        if found is None:
            raise PipelineError(
                f"pipeline line {line}: segment {name} names segment packl "
                f"{spec['packl']!r}, but no installed packl has a {SEGMENT_GROUP} entry "
                f"point of that name (install it: pipl packl add {spec['packl']})"
            )
        return found
    if code_dir is not None:
        for root in root_names(name):
            script = code_dir / f"{root}.py"
            if script.is_file():
                return _script(name, root, script, code_dir, spec)
    found = _entry_point(name, root_names(name), spec, python)
    if found is not None:
        return found
    where = f"{code_dir}/{name}.py" if code_dir is not None else f"{name}.py"
    raise PipelineError(
        f"pipeline line {line}: no code for segment {name}: write {where} or install a "
        f"segment packl with a {SEGMENT_GROUP} entry point named {name!r}"
    )


def code_in_environment(name: str, code_dir: Path | None, spec: dict[str, Any]) -> bool:
    """Whether the segment's code is looked up among installed segment packls (it names
    one, or has no script) rather than read from a script."""
    if "packl" in spec or code_dir is None:
        return True
    return not any((code_dir / f"{root}.py").is_file() for root in root_names(name))


def _directives(
    name: str, source: str, base: Path | None, spec: dict[str, Any]
) -> tuple[Multiplex, dict[str, bytes]]:
    found = _MULTIPLEX.findall(source)
    text = spec.get("multiplex", found[-1] if found else "cross_prod")
    multiplex = parse_multiplex(str(text), name)
    depend: dict[str, bytes] = {}
    names = [n for line in _DEPEND.findall(source) for n in line.split()]
    names += [str(n) for n in spec.get("depend", [])]
    for dep in names:
        path = Path(dep) if base is None else base / dep
        if not path.is_file():
            raise PipelineError(f"segment {name}: #depend {dep}: no such file ({path})")
        depend[dep] = path.read_bytes()
    return multiplex, depend


def _hooks(name: str, root: str, source: str, code_dir: Path) -> dict[str, tuple[str, str]]:
    hooks: dict[str, tuple[str, str]] = {}
    pending = _HOOK.findall(source)
    while pending:
        hook = pending.pop()
        if hook in hooks:
            continue
        for base in dict.fromkeys((name, root)):
            path = code_dir / f"{base}_{hook}.py"
            if path.is_file():
                text = path.read_text()
                hooks[hook] = (str(path), text)
                pending += _HOOK.findall(text)
                break
        else:
            raise PipelineError(
                f"segment {name} calls hook({hook!r}) but {code_dir}/{name}_{hook}.py "
                "does not exist"
            )
    return hooks


def _script(
    name: str, root: str, script: Path, code_dir: Path, spec: dict[str, Any]
) -> SegmentCode:
    source = script.read_text()
    hooks = _hooks(name, root, source, code_dir)
    multiplex, depend = _directives(name, source, code_dir, spec)
    return SegmentCode(name, source, str(script), hooks=hooks, depend=depend, multiplex=multiplex)


def _entry_point(
    name: str, candidates: list[str], spec: dict[str, Any], python: str | None = None
) -> SegmentCode | None:
    if python is not None:
        return _entry_point_elsewhere(name, candidates, spec, python)
    from pipl_pipe.entrypoints import default_index

    plugins = {p.name: p for p in default_index().group(SEGMENT_GROUP)}
    for candidate in candidates:
        plugin = plugins.get(candidate)
        if plugin is None:
            continue
        module = plugin.value.partition(":")[0].strip()
        found = importlib.util.find_spec(module)
        origin = found.origin if found is not None else None
        source = Path(origin).read_text() if origin and origin.endswith(".py") else ""
        meta = dict(spec)
        attr_multiplex = _module_attr(plugin.value, "MULTIPLEX")
        if "multiplex" not in meta and attr_multiplex:
            meta["multiplex"] = attr_multiplex
        multiplex, depend = _directives(name, source, None, meta)
        return SegmentCode(
            name,
            source,
            origin or plugin.value,
            entry=plugin.value.strip(),
            dist=f"{plugin.dist}=={plugin.version}",
            depend=depend,
            multiplex=multiplex,
        )
    return None


def _entry_point_elsewhere(
    name: str, candidates: list[str], spec: dict[str, Any], python: str
) -> SegmentCode | None:
    from pipl.pipe.probe import entry_point

    found = entry_point(python, candidates)
    if found is None:
        return None
    meta = dict(spec)
    if "multiplex" not in meta and found["multiplex"]:
        meta["multiplex"] = found["multiplex"]
    multiplex, depend = _directives(name, found["source"], None, meta)
    return SegmentCode(
        name,
        found["source"],
        found["origin"] or found["value"],
        entry=found["value"].strip(),
        dist=f"{found['dist']}=={found['version']}",
        depend=depend,
        multiplex=multiplex,
    )


def _module_attr(value: str, attr: str) -> Any:
    module = value.partition(":")[0].strip()
    try:
        return getattr(importlib.import_module(module), attr, None)
    except Exception:  # a broken packl is reported when its instances run
        return None
