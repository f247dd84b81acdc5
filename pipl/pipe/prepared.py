"""Segments ready to run: the DAG parsed, each segment's code found, its key computed.

``prepare`` walks the segments parents first, so each key covers its parents' keys; a run,
a dry run and a publication all start from its ``Prepared`` list.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipl.errors import PipelineError
from pipl.pipe.code import SegmentCode, code_in_environment, find_code
from pipl.pipe.graph import topological
from pipl.pipe.keys import key_inputs, segment_key
from pipl.pipe.parse import parse
from pipl.pipe.pipeline import Pipeline
from pipl.pipe.store import segment_root


@dataclass
class Prepared:
    """A segment ready to run: its code, key, folder and environment."""

    name: str
    code: SegmentCode
    key: str
    root: Path
    parents: list[str]
    params: dict[str, Any]
    python: str
    env_lock: str
    inputs: dict[str, str] = field(default_factory=dict)  # digests of the key's inputs


def prepare(pipeline: Pipeline, *, make_envs: bool = True) -> list[Prepared]:
    """Parse the DAG, find each segment's code and compute the keys, parents first.
    ``make_envs=False`` (a dry run) makes no segment environment: a segment whose code is
    in an environment not made yet is then an error."""
    from pipl.pipe.envs import segment_environment
    from pipl.pipe.sources import SourceScan

    dag = parse(pipeline.dot)
    sources = SourceScan(pipeline)
    prepared: dict[str, Prepared] = {}
    for name in topological(dag):
        spec = dict(pipeline.segments.get(name, {}))
        python, env_lock = segment_environment(pipeline, name, spec, make=make_envs)
        elsewhere = python if python != sys.executable else None
        if (
            elsewhere
            and not Path(elsewhere).exists()
            and code_in_environment(name, pipeline.code_dir, spec)
        ):
            raise PipelineError(
                f"segment {name}: its code is in its own environment, not made yet, and a "
                f"dry run makes none: make it with a run (pipl pipe run --until {name})"
            )
        code = find_code(name, pipeline.code_dir, spec, dag.lines[name], elsewhere)
        code = replace(code, sources=sources.of(name, spec, code, python))
        parents = dag.parents(name)
        if parents and "inputs" in spec:
            raise PipelineError(
                f"pipeline line {dag.lines[name]}: segment {name} takes packls as inputs "
                f"but has parents ({', '.join(parents)}): only an orphan segment can"
            )
        params = dict(spec.get("params", {}))
        parent_keys = {p: prepared[p].key for p in parents}
        key = segment_key(code, params, parent_keys, env_lock)
        parent_root = prepared[parents[0]].root if parents else None
        root = segment_root(pipeline.prefix, parent_root, name, key)
        prepared[name] = Prepared(
            name,
            code,
            key,
            root,
            parents,
            params,
            python,
            env_lock,
            key_inputs(code, params, parent_keys, env_lock),
        )
    return list(prepared.values())
