"""Packls as a pipeline's inputs: an orphan segment fed with the packls it depends on.

In the pipeline module's ``SEGMENTS`` table, an orphan segment may take its input items
from the packls installed with the pipeline (its dependencies), by name pattern or by
product type::

    SEGMENTS = {"calibrate": {"inputs": {"packls": "scan-*"}},
                "shade": {"inputs": {"type": "rig"}}}

Each matching distribution of the pipeline's environment is one input item, a dict
``{"packl": NAME, "version": VERSION}`` (and ``"type"`` for a product): the segment reads
the packl it names from its own environment (``importlib.metadata``, or
``pipl_pipe.products`` for a product's assets). As an item holds its packl's version, a new
version of one input packl makes one new instance, and only it (and what depends on it)
computes; the others keep their outputs under the same key. For that, the environment
lock in the keys leaves the input packls out (``input_names``).
"""

from __future__ import annotations

import fnmatch
import os
import sys
from typing import Any

from pipl_pipe.segment.probe import installed as listed

from pipl.errors import PipelineError
from pipl.names import normalize_dist
from pipl.pipe import probe


def declared(segments: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """``{segment: {"packls": pattern} or {"type": type}}`` of the segments that take
    packls as inputs, each checked (one key, a non-empty string)."""
    found: dict[str, dict[str, str]] = {}
    for name, spec in segments.items():
        if "inputs" not in spec:
            continue
        inputs = spec["inputs"]
        if (
            not isinstance(inputs, dict)
            or len(inputs) != 1
            or next(iter(inputs)) not in ("packls", "type")
            or not isinstance(next(iter(inputs.values())), str)
            or not next(iter(inputs.values())).strip()
        ):
            raise PipelineError(
                f"segment {name}: 'inputs' must be {{'packls': 'NAME-PATTERN'}} or "
                f"{{'type': 'PRODUCT-TYPE'}}, not {inputs!r}"
            )
        found[name] = {str(k): str(v).strip() for k, v in inputs.items()}
    return found


def installed(python: str) -> list[dict[str, str]]:
    """The distributions of ``python``'s environment: name, version, and the product type
    of those that are products (empty otherwise)."""
    # not resolved: a virtualenv's python links to the interpreter it was made from
    if not python or os.path.abspath(python) == os.path.abspath(sys.executable):
        return installed_at([])
    return probe.installed(python)  # another environment's interpreter answers


def installed_at(path: list[str]) -> list[dict[str, str]]:
    """``installed`` for the distributions in the folders ``path`` (empty: ``sys.path``)."""
    return listed(path)


def matching(spec: dict[str, str], dists: list[dict[str, str]]) -> list[dict[str, str]]:
    """The input items ``spec`` selects among ``dists``, sorted by name."""
    if "packls" in spec:
        pattern = normalize_dist(spec["packls"])  # "*", "?" and "[...]" are kept
        chosen = [d for d in dists if fnmatch.fnmatchcase(d["packl"], pattern)]
    else:
        chosen = [d for d in dists if d["type"] == spec["type"]]
    items = []
    for d in sorted(chosen, key=lambda d: d["packl"]):
        item = {"packl": d["packl"], "version": d["version"]}
        if d["type"]:
            item["type"] = d["type"]
        items.append(item)
    return items


def packl_inputs(
    segments: dict[str, dict[str, Any]], python: str, dists: list[dict[str, str]] | None = None
) -> dict[str, list[dict[str, str]]]:
    """The input items of every segment that takes packls as inputs, from the pipeline's
    environment (``python``). A segment whose selection matches nothing is an error: the
    pipeline would silently compute nothing."""
    wanted = declared(segments)
    if not wanted:
        return {}
    dists = installed(python) if dists is None else dists
    items: dict[str, list[dict[str, str]]] = {}
    for name, spec in wanted.items():
        items[name] = matching(spec, dists)
        if not items[name]:
            what = (
                f"packls named {spec['packls']!r}"
                if "packls" in spec
                else (f"products of type {spec['type']!r}")
            )
            raise PipelineError(
                f"segment {name} takes {what} as inputs, but none is installed with the "
                "pipeline: add them to its dependencies"
            )
    return items


def input_names(segments: dict[str, dict[str, Any]], dists: list[dict[str, str]]) -> set[str]:
    """Normalized names of the installed packls some segment takes as inputs."""
    return {item["packl"] for spec in declared(segments).values() for item in matching(spec, dists)}
