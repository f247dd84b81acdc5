"""Looking after a pipeline's store: status, cleaning old keys, the graph."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from pipl.errors import PipelineError, UsageError
from pipl.pipe.code import code_in_environment, find_code
from pipl.pipe.db import TrackingDb, open_db
from pipl.pipe.graph import Dag, to_dot, topological
from pipl.pipe.multiplex import parse_multiplex
from pipl.pipe.parse import parse
from pipl.pipe.pipeline import Pipeline
from pipl.pipe.prepared import prepare
from pipl.pipe.store import walk_segments
from pipl.runner import Runner


@dataclass(frozen=True)
class SegmentStatus:
    name: str
    key: str
    root: Path
    done: int
    failed: int
    failures: list[tuple[str, str]]


def status(pipeline: Pipeline) -> tuple[list[SegmentStatus], list[dict[str, object]]]:
    """Per segment of the current definition: instances done and failed under its key;
    and the last runs."""
    segments = prepare(pipeline)
    with open_db(pipeline.prefix) as db:
        return segment_states(db, [(s.name, s.key, s.root) for s in segments]), db.runs(5)


def segment_states(db: TrackingDb, segments: list[tuple[str, str, Path]]) -> list[SegmentStatus]:
    """Instances done and failed (and the first failures) of each ``(name, key, root)``."""
    rows = []
    for name, key, root in segments:
        counts = db.counts(key)
        rows.append(
            SegmentStatus(name, key, root, counts["done"], counts["failed"], db.failures(key))
        )
    return rows


def clean(pipeline: Pipeline, *, everything: bool = False) -> list[Path]:
    """Remove the folders of keys the current definition no longer uses (or all data)."""
    prefix = pipeline.prefix
    if everything:
        removed = [f.root for f in walk_segments(prefix)]
        if prefix.exists():
            shutil.rmtree(prefix)
        return removed
    current = {seg.key for seg in prepare(pipeline)}
    stale = [f for f in walk_segments(prefix) if f.meta["key"] not in current]
    removed = []
    with open_db(prefix) as db:
        for found in sorted(stale, key=lambda f: len(f.root.parts)):
            if found.root.exists():  # else gone with a stale parent's folder
                shutil.rmtree(found.root)
            removed.append(found.root)
        db.forget(f.meta["key"] for f in stale)
    return removed


FORMATS = ("dot", "svg", "png")


def check(pipeline: Pipeline) -> Dag:
    """What a run checks before it computes anything, without making environments: the
    DAG parses and has no cycle; every segment has code, its hooks and ``#depend`` files,
    and a multiplex directive that reads. Of a segment whose code is in its own
    environment (``env``, no script), only the directive given in ``SEGMENTS`` is read.
    Raises ``PipelineError`` naming the first problem; returns the DAG."""
    dag = parse(pipeline.dot)
    for name in topological(dag):
        spec = dict(pipeline.segments.get(name, {}))
        if spec.get("env") and code_in_environment(name, pipeline.code_dir, spec):
            if "multiplex" in spec:
                parse_multiplex(str(spec["multiplex"]), name)
            continue
        find_code(name, pipeline.code_dir, spec, dag.lines[name])
    return dag


def graph(pipeline: Pipeline, fmt: str = "dot", runner: Runner | None = None) -> bytes:
    """The DAG as dot text, or drawn by graphviz ``dot`` as svg or png, once ``check``
    finds nothing a run would refuse."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown graph format {fmt!r}: choose from {', '.join(FORMATS)}")
    dag = check(pipeline)
    return draw(to_dot(dag, pipeline.name.replace("-", "_")), fmt, runner)


def draw(text: str, fmt: str = "svg", runner: Runner | None = None) -> bytes:
    """Dot ``text`` as is (``fmt`` dot), or drawn by graphviz ``dot`` as svg or png."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown graph format {fmt!r}: choose from {', '.join(FORMATS)}")
    if fmt == "dot":
        return text.encode()
    exe = shutil.which("dot")
    if exe is None:
        raise PipelineError(
            f"drawing {fmt} needs graphviz's 'dot' program (apt-get install graphviz), "
            "or use --format dot"
        )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"graph.{fmt}"
        (runner or Runner()).run([exe, f"-T{fmt}", "-o", str(out)], input=text)
        return out.read_bytes()
