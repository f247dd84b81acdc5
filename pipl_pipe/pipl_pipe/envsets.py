"""EnvSets: environment variables and PATH entries contributed by installed packls.

A packl lists an envset in the entry-point group ``pipl_pipe.envset``; the object is an
``EnvSet`` or a dict with the same keys::

    ENVSET = {"set": {"MAYA_VERSION": "2025"},
              "prepend": {"PATH": ["{root}/bin"], "MAYA_MODULE_PATH": ["{root}/modules"]}}

``{root}`` is the packl's package folder, ``{prefix}`` the environment's prefix.

Envsets apply in dependency order: a packl's envset comes after those of the packls it
depends on, so it can extend (prepend/append) or override (set) their values. Two packls
setting one variable to different values when neither depends on the other is a
conflict: it is reported, and the later one by name wins.

``python -m pipl_pipe.envsets [--json]`` prints the resolution of the running environment;
with ``--result PATH`` it answers pipl there (``pipl_pipe.answer``), so an envset's module
printing on import changes nothing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipl_pipe.answer import respond, split_result
from pipl_pipe.entrypoints import EntryPointIndex, Plugin, default_index, normalize
from pipl_pipe.errors import PipeError

GROUP = "pipl_pipe.envset"


@dataclass(frozen=True)
class EnvSet:
    set: dict[str, str] = field(default_factory=dict)
    prepend: dict[str, list[str]] = field(default_factory=dict)
    append: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_object(cls, obj: Any, plugin: Plugin) -> EnvSet:
        if isinstance(obj, EnvSet):
            return obj
        if isinstance(obj, Mapping) and set(obj) <= {"set", "prepend", "append"}:
            try:
                return cls(
                    set={str(k): str(v) for k, v in obj.get("set", {}).items()},
                    prepend={
                        str(k): [str(p) for p in v] for k, v in obj.get("prepend", {}).items()
                    },
                    append={str(k): [str(p) for p in v] for k, v in obj.get("append", {}).items()},
                )
            except (AttributeError, TypeError) as exc:
                raise PipeError(f"envset {plugin} is malformed: {exc}") from None
        raise PipeError(
            f"envset {plugin} must be an EnvSet or a dict with keys set, prepend, append"
        )


@dataclass
class Resolution:
    env: dict[str, str] = field(default_factory=dict)  # only the variables envsets touch
    changes: list[dict[str, str]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)


def _ancestors(index: EntryPointIndex) -> dict[str, set[str]]:
    from pipl_pipe.products import requirement_names

    direct = {d: set(requirement_names(index.requires(d))) for d in index.distributions()}
    closure: dict[str, set[str]] = {}

    def walk(dist: str, seen: set[str]) -> set[str]:
        if dist in closure:
            return closure[dist]
        found: set[str] = set()
        for dep in direct.get(dist, ()):
            if dep not in seen:
                found |= {dep} | walk(dep, seen | {dep})
        closure[dist] = found
        return found

    for dist in direct:
        walk(dist, {dist})
    return closure


def _order(providers: list[str], ancestors: dict[str, set[str]]) -> list[str]:
    remaining, ordered = sorted(providers), []
    while remaining:
        ready = [d for d in remaining if not (ancestors.get(d, set()) & set(remaining))]
        pick = ready[0] if ready else remaining[0]  # a cycle: fall back to name order
        ordered.append(pick)
        remaining.remove(pick)
    return ordered


def _expand(value: str, plugin: Plugin) -> str:
    module = plugin.value.partition(":")[0].strip()
    spec = importlib.util.find_spec(module)
    root = Path(spec.origin).parent if spec and spec.origin else Path(sys.prefix)
    return value.replace("{root}", str(root)).replace("{prefix}", sys.prefix)


def resolve(
    index: EntryPointIndex | None = None, base: Mapping[str, str] | None = None
) -> Resolution:
    index = index or default_index()
    base = dict(os.environ if base is None else base)
    plugins = {normalize(p.dist): p for p in index.group(GROUP)}
    ancestors = _ancestors(index)
    result = Resolution(order=_order(list(plugins), ancestors))
    setter: dict[str, str] = {}
    for dist in result.order:
        plugin = plugins[dist]
        envset = EnvSet.from_object(plugin.load(), plugin)
        for var, raw in envset.set.items():
            value = _expand(raw, plugin)
            previous = setter.get(var)
            if previous and result.env.get(var) != value:
                if previous in ancestors.get(dist, set()):
                    note = f"overrides {previous}"
                else:
                    note = f"conflicts with {previous}"
                    result.conflicts.append(
                        f"{var}: {plugin.dist} sets {value!r} but {previous} sets "
                        f"{result.env[var]!r} and neither depends on the other "
                        f"({plugin.dist} wins by name order)"
                    )
            else:
                note = ""
            result.env[var] = value
            setter[var] = dist
            result.changes.append(
                {"var": var, "action": "set", "value": value, "packl": plugin.dist, "note": note}
            )
        for action, table in (("prepend", envset.prepend), ("append", envset.append)):
            for var, raw_paths in table.items():
                paths = [_expand(p, plugin) for p in raw_paths]
                current = result.env.get(var, base.get(var, ""))
                parts = [p for p in current.split(os.pathsep) if p]
                parts = (
                    paths + [p for p in parts if p not in paths]
                    if action == "prepend"
                    else [p for p in parts if p not in paths] + paths
                )
                result.env[var] = os.pathsep.join(parts)
                result.changes.append(
                    {
                        "var": var,
                        "action": action,
                        "value": os.pathsep.join(paths),
                        "packl": plugin.dist,
                        "note": "",
                    }
                )
    return result


def main(argv: list[str] | None = None) -> int:
    args, result = split_result(sys.argv[1:] if argv is None else argv)
    if result is not None:
        return respond(result, lambda: asdict(resolve()))
    try:
        resolution = resolve()
    except PipeError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    if "--json" in args:
        print(json.dumps(asdict(resolution), indent=2))
        return 0
    for change in resolution.changes:
        note = f"  ({change['note']})" if change["note"] else ""
        print(f"{change['action']:8} {change['var']}={change['value']}  [{change['packl']}]{note}")
    for conflict in resolution.conflicts:
        print(f"conflict: {conflict}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    # run the imported module, not this __main__ copy, so that classes packls subclass
    # (and isinstance checks) are the same objects
    from pipl_pipe.envsets import main as _main

    raise SystemExit(_main())
