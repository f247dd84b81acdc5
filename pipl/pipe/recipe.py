"""What a run leaves for those who look at its data later: ``PREFIX/pipeline.json``.

Each run records the pipeline it ran (its DAG text, where its code is, its options, the
interpreter of its segments) and the key each segment had. The dashboard and the API
read it to draw the graph and to count instances under the current keys without
loading the pipeline's code, and run the pipeline again from it (``recorded_pipeline``)
the way the run that wrote it did.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipl.errors import NotFound
from pipl.fsutil import atomic_write

if TYPE_CHECKING:
    from pipl.pipe.pipeline import Pipeline

RECIPE = "pipeline.json"


@dataclass(frozen=True)
class SegmentEntry:
    """A segment as the last run saw it."""

    name: str
    key: str
    parents: list[str]
    root: Path


@dataclass(frozen=True)
class Recipe:
    name: str
    dot: str
    segments: list[SegmentEntry]  # parents first
    recorded: float
    pipeline: dict[str, Any]  # what ``Pipeline(**...)`` needs to run again

    def segment(self, name: str) -> SegmentEntry | None:
        return next((s for s in self.segments if s.name == name), None)


def save_recipe(pipeline: Pipeline, segments: list[tuple[str, str, list[str], Path]]) -> None:
    """Record ``pipeline`` and its segments' ``(name, key, parents, root)`` in its prefix
    (pushed values in push.json's typed form, so a tuple is run again as a tuple)."""
    from pipl.pipe.pipeline import encode_pushed

    data = {
        "name": pipeline.name,
        "dot": pipeline.dot,
        "recorded": time.time(),
        "segments": [
            {"name": n, "key": k, "parents": list(p), "root": str(r)} for n, k, p, r in segments
        ],
        "pipeline": {
            "dot": pipeline.dot,
            "code_dir": str(pipeline.code_dir) if pipeline.code_dir is not None else None,
            "segments": pipeline.segments,
            "pushed": encode_pushed(pipeline.pushed, strict=False),
            "name": pipeline.name,
            "env_lock": pipeline.env_lock,
            "root": str(pipeline.root) if pipeline.root is not None else None,
            "index_url": pipeline.index_url,
            "python": pipeline.python,
        },
    }
    atomic_write(pipeline.prefix / RECIPE, json.dumps(data, indent=1, default=repr) + "\n")


def load_recipe(prefix: Path) -> Recipe | None:
    """The recipe of the last run under ``prefix`` (None: no run recorded one)."""
    try:
        data = json.loads((prefix / RECIPE).read_text())
        return Recipe(
            name=str(data["name"]),
            dot=str(data["dot"]),
            segments=[
                SegmentEntry(str(s["name"]), str(s["key"]), list(s["parents"]), Path(s["root"]))
                for s in data["segments"]
            ],
            recorded=float(data["recorded"]),
            pipeline=dict(data["pipeline"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def recorded_pipeline(prefix: Path) -> Pipeline:
    """The pipeline the last run under ``prefix`` ran, ready to run again."""
    from pipl.pipe.pipeline import Pipeline

    recipe = load_recipe(prefix)
    if recipe is None:
        raise NotFound(
            f"{prefix} has no {RECIPE}: run the pipeline once with 'pipl pipe run' or CI",
        )
    from pipl.pipe.pipeline import decode_pushed

    spec = dict(recipe.pipeline)
    spec["pushed"] = decode_pushed(dict(spec.get("pushed") or {}))
    code_dir = spec.pop("code_dir")
    root = spec.pop("root")
    return Pipeline(
        prefix=prefix,
        code_dir=Path(code_dir) if code_dir else None,
        root=Path(root) if root else None,
        **spec,
    )
