"""A pipeline: its DAG text, where its segment code lives, options, pushed inputs.

In a pipeline packl, the module's ``__init__.py`` declares (read without importing it)::

    PIPELINE = '''
    knights -> melt;
    quality -> melt;
    '''
    SEGMENTS = {"melt": {"multiplex": "cross_prod where \\"quality == 'the Brave'\\""},
                "render": {"packl": "render-seg", "params": {"size": 4}}}
    PUSH = {"knights": ["Lancelot", "Galahad"]}

and segment scripts live in ``<module>/segments/NAME.py``. Per segment, ``SEGMENTS`` may
give ``packl`` (a segment packl's entry point name), ``multiplex``, ``depend`` (files),
``params`` (a dict, in the key, ``params`` in the segment) and ``env`` (a requirement list
for the segment's own uv environment).
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipl.errors import PipelineError
from pipl.fsutil import atomic_write, locked

PUSH_FILE = "push.json"


@dataclass
class Pipeline:
    dot: str
    code_dir: Path | None
    prefix: Path
    segments: dict[str, dict[str, Any]] = field(default_factory=dict)
    pushed: dict[str, list[Any]] = field(default_factory=dict)
    name: str = "pipeline"
    env_lock: str = ""  # the default environment's lock text (part of every key)
    root: Path | None = None  # the pipeline packl's folder
    index_url: str | None = None  # where segment environments resolve (the project index)
    python: str = ""  # the default segment interpreter (empty: the engine's own)
    version: str = ""  # the pipeline packl's version, where known (its products pin it)

    def push(self, **inputs: list[Any]) -> None:
        """Inputs of orphan segments for this run: ``P.push(knights=["Lancelot"])``."""
        for seg, values in inputs.items():
            self.pushed[seg] = list(values)

    def all_pushed(self) -> dict[str, list[Any]]:
        """Pushed here, plus the packls that segments take as inputs
        (``pipl.pipe.inputs``), plus what ``pipl pipe push`` stored under the prefix. A
        stored value equal to one pushed here but for tuples and lists (JSON has no
        tuples) is the same input: the one pushed here is kept, with its type."""
        from pipl.pipe.inputs import packl_inputs

        stored = read_pushed(self.prefix)
        merged = {k: list(v) for k, v in self.pushed.items()}
        for seg, items in packl_inputs(self.segments, self.python).items():
            merged.setdefault(seg, [])
            merged[seg] += items
        for seg, values in stored.items():
            merged[seg] = _distinct([*merged.get(seg, []), *values])
        return merged


def value_identity(value: Any) -> str:
    """What tells two pushed values apart: their repr with tuples written as lists, so a
    tuple and the list of the same items are one input (one instance)."""
    return repr(_as_lists(value))


def _as_lists(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_as_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_lists(v) for k, v in value.items()}
    return value


def _distinct(values: list[Any]) -> list[Any]:
    """``values`` without repeats (by ``value_identity``), the first of each kept."""
    seen: dict[str, Any] = {}
    for value in values:
        seen.setdefault(value_identity(value), value)
    return list(seen.values())


# push.json: {"pipl-push": 2, "segments": {SEG: [VALUE, ...]}}, each VALUE in JSON where
# a tuple is {"$tuple": [...]} and a dict with a key starting with "$" is {"$dict": {...}};
# files written before (plain {SEG: [VALUE, ...]}, no tuples) are read as they are
PUSH_FORMAT = "pipl-push"  # not a segment name: tells the typed format from the first one
PUSH_VERSION = 2
_TUPLE, _DICT = "$tuple", "$dict"


def encode_value(value: Any, *, strict: bool = True) -> Any:
    """``value`` as JSON data that ``decode_value`` turns back into it, tuples included.
    Other types raise ``PipelineError`` (``strict=False``: they are kept as their repr)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, tuple):
        return {_TUPLE: [encode_value(v, strict=strict) for v in value]}
    if isinstance(value, list):
        return [encode_value(v, strict=strict) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        encoded = {k: encode_value(v, strict=strict) for k, v in value.items()}
        return {_DICT: encoded} if any(k.startswith("$") for k in value) else encoded
    if not strict:
        return repr(value)
    raise PipelineError(
        f"cannot keep pushed value {value!r} ({type(value).__name__}): push strings, "
        "numbers, booleans, None, and lists, tuples or dicts (with str keys) of them"
    )


def decode_value(data: Any) -> Any:
    """The value ``encode_value`` encoded (plain JSON decodes as itself)."""
    if isinstance(data, list):
        return [decode_value(v) for v in data]
    if isinstance(data, dict):
        if len(data) == 1 and isinstance(data.get(_TUPLE), list):
            return tuple(decode_value(v) for v in data[_TUPLE])
        if len(data) == 1 and isinstance(data.get(_DICT), dict):
            return {k: decode_value(v) for k, v in data[_DICT].items()}
        return {k: decode_value(v) for k, v in data.items()}
    return data


def encode_pushed(pushed: dict[str, list[Any]], *, strict: bool = True) -> dict[str, Any]:
    """Pushed inputs by segment in the typed JSON form (push.json, pipeline.json)."""
    return {
        PUSH_FORMAT: PUSH_VERSION,
        "segments": {
            seg: [encode_value(v, strict=strict) for v in values] for seg, values in pushed.items()
        },
    }


def decode_pushed(data: dict[str, Any]) -> dict[str, list[Any]]:
    """What ``encode_pushed`` made, or the untyped form written before it."""
    if PUSH_FORMAT not in data:
        return {seg: list(values) for seg, values in data.items()}
    return {seg: [decode_value(v) for v in values] for seg, values in data["segments"].items()}


def read_pushed(prefix: Path) -> dict[str, list[Any]]:
    path = prefix / PUSH_FILE
    if not path.exists():
        return {}
    return decode_pushed(json.loads(path.read_text()))


def store_push(prefix: Path, segment: str, values: list[Any], *, replace: bool = False) -> int:
    """Add (or replace) the stored inputs of an orphan segment; returns how many it has.
    Values keep their type (a tuple stays a tuple); one equal to a stored value but for
    tuples and lists is not added again."""
    for value in values:
        encode_value(value)  # an unkeepable value fails before anything is written
    prefix.mkdir(parents=True, exist_ok=True)
    path = prefix / PUSH_FILE
    with locked(path):
        data = read_pushed(prefix)
        current = _distinct([*([] if replace else data.get(segment, [])), *values])
        data[segment] = current
        atomic_write(path, json.dumps(encode_pushed(data), indent=2) + "\n")
    return len(current)


def load_pipeline(folder: Path, prefix: Path | None = None) -> Pipeline:
    """The pipeline of a pipeline packl folder."""
    import tomllib

    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        raise PipelineError(f"{folder} is not a pipeline packl (no pyproject.toml)")
    meta = tomllib.loads(pyproject.read_text())
    kind = meta.get("tool", {}).get("pipl", {}).get("kind")
    if kind != "pipeline":
        raise PipelineError(
            f"{folder} is a packl of kind {kind!r}, not a pipeline "
            "(create one: pipl packl create NAME --kind pipeline)"
        )
    name = meta["project"]["name"]
    module = meta.get("tool", {}).get("flit", {}).get("module", {}).get("name")
    module = module or name.replace("-", "_")
    init = folder / module / "__init__.py"
    values = _constants(init)
    if "PIPELINE" not in values:
        raise PipelineError(f"{init} has no PIPELINE string (the DAG, like 'a -> b;')")
    lock = folder / "uv.lock"
    version = meta["project"].get("version")  # absent when the packl declares it dynamic
    return Pipeline(
        dot=str(values["PIPELINE"]),
        code_dir=folder / module / "segments",
        prefix=prefix or folder / "pipe-data",
        segments=dict(values.get("SEGMENTS", {})),
        pushed={k: list(v) for k, v in dict(values.get("PUSH", {})).items()},
        name=name,
        env_lock=lock.read_text() if lock.is_file() else "",
        root=folder,
        index_url=_index_url(folder),
        version=version if isinstance(version, str) else "",
    )


def _index_url(folder: Path) -> str | None:
    """env PIPL_PIPE_INDEX, or the simple URL of the project the folder is in."""
    import os

    if os.environ.get("PIPL_PIPE_INDEX"):
        return os.environ["PIPL_PIPE_INDEX"]
    from pipl.errors import ProjectError
    from pipl.project.project import find_project

    try:
        return find_project(start=folder).simple_url()
    except ProjectError:
        return None


def load_module_pipeline(module: str, prefix: Path) -> Pipeline:
    """The pipeline of an installed pipeline packl, by module name (env PIPL_PIPE_PREFIX,
    when set, overrides ``prefix``)."""
    import importlib.metadata as md
    import importlib.util
    import os

    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise PipelineError(f"no installed pipeline module {module!r}")
    dists = md.packages_distributions().get(module.partition(".")[0], [module])
    try:
        version = md.version(dists[0])
    except md.PackageNotFoundError:
        version = ""
    return installed_pipeline(
        Path(spec.origin),
        dists[0],
        Path(os.environ.get("PIPL_PIPE_PREFIX") or prefix),
        version=version,
    )


def installed_pipeline(init: Path, name: str, prefix: Path, **options: Any) -> Pipeline:
    """The pipeline of an installed pipeline packl, from its module's ``__init__.py``
    (maybe in another environment: ``options`` give its ``python``, ``env_lock``...)."""
    values = _constants(init)
    if "PIPELINE" not in values:
        raise PipelineError(f"{init} has no PIPELINE string (the DAG, like 'a -> b;')")
    return Pipeline(
        dot=str(values["PIPELINE"]),
        code_dir=init.parent / "segments",
        prefix=prefix,
        segments=dict(values.get("SEGMENTS", {})),
        pushed={k: list(v) for k, v in dict(values.get("PUSH", {})).items()},
        name=name,
        root=init.parent,
        **options,
    )


def _constants(path: Path) -> dict[str, Any]:
    """Module-level literal assignments (the file is not imported)."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (OSError, SyntaxError) as exc:
        raise PipelineError(f"cannot read {path}: {exc}") from None
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in ("PIPELINE", "SEGMENTS", "PUSH"):
                    try:
                        found[target.id] = ast.literal_eval(node.value)  # type: ignore[arg-type]
                    except ValueError:
                        raise PipelineError(
                            f"{path} line {node.lineno}: {target.id} must be a literal "
                            "(a string or a dict of plain values)"
                        ) from None
    return found
