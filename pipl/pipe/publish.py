"""Publishing a segment's outputs as a product packl.

The product (default name ``<pipeline>-<segment>``) holds two assets: ``data`` (the
segment's instance folders) and ``segment.json`` (its key, parameters, multiplex, the
instances' outputs and the exact upstream packl versions). Its version derives from the
key (``0.0.<key as an integer>``), so "already computed and published?" is one lookup on
the index: publishing the same key again does nothing.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipl import names
from pipl.errors import PipelineError
from pipl.pipe.db import open_db
from pipl.pipe.pipeline import Pipeline
from pipl.pipe.run import Prepared, prepare

if TYPE_CHECKING:
    from pipl_pipe.assets.objects import AssetStore

    from pipl.index.client import IndexClient
    from pipl.uv import Uv


@dataclass(frozen=True)
class Published:
    name: str
    version: str
    key: str
    index: str
    already: bool  # the index had this key's product: nothing was built or sent
    files: list[Path] = field(default_factory=list)


def key_version(key: str) -> str:
    return f"0.0.{int(key, 16)}"


def publish_segment(
    pipeline: Pipeline,
    segment: str,
    *,
    client: IndexClient,
    index: str,
    store: AssetStore,
    index_url: str,
    name: str | None = None,
    uv: Uv | None = None,
) -> Published:
    """Publish ``segment``'s outputs (``segment_record`` then ``publish_record``)."""
    product = names.check_dist(name or f"{pipeline.name}-{segment}".replace("_", "-"), "product")
    record = segment_record(pipeline, segment)
    return publish_record(
        record,
        product=product,
        client=client,
        index=index,
        store=store,
        index_url=index_url,
        uv=uv,
    )


def segment_record(pipeline: Pipeline, segment: str) -> dict[str, Any]:
    """What publishing ``segment`` needs, as JSON: its key, parameters, multiplex,
    upstream keys and packls, the outputs of its finished instances, the folder of its
    data (``data``) and its instance counts (``done``, ``failed``). Made where the
    pipeline runs (in CI, inside the job's sandbox)."""
    by_name = {s.name: s for s in prepare(pipeline)}
    if segment not in by_name:
        raise PipelineError(f"no segment {segment!r} in {pipeline.name} ({', '.join(by_name)})")
    seg = by_name[segment]
    with open_db(pipeline.prefix) as db:
        counts = db.counts(seg.key)
        outputs = {n: out for n, out in sorted(db.done(seg.key).items())}
    upstream = _upstream(seg.name, by_name)
    record = {
        "pipeline": pipeline.name,
        "segment": segment,
        "key": seg.key,
        "params": seg.params,
        "multiplex": str(seg.code.multiplex),
        "upstream": {u: {"key": by_name[u].key, "dist": by_name[u].code.dist} for u in upstream},
        "sources": sorted({by_name[u].code.dist for u in upstream if by_name[u].code.dist}),
        "outputs": outputs,
    }
    # plain JSON: a value JSON cannot hold is written as its repr, as segment.json keeps it
    plain: dict[str, Any] = json.loads(json.dumps(record, default=repr))
    return {
        "record": plain,
        "data": str(seg.root / "data"),
        "done": counts["done"],
        "failed": counts["failed"],
    }


def publish_record(
    made: dict[str, Any],
    *,
    product: str,
    client: IndexClient,
    index: str,
    store: AssetStore,
    index_url: str,
    uv: Uv | None = None,
) -> Published:
    """Build and upload the product of a ``segment_record`` as ``product``; its version
    derives from the key, and a key published already is not published again."""
    from pipl.product.build import ProductSpec, build_product

    record = made["record"]
    key, segment = str(record["key"]), str(record["segment"])
    version = key_version(key)
    if version in client.versions(index, product):
        return Published(product, version, key, index, already=True)
    if made["failed"] or not made["done"]:
        raise PipelineError(
            f"segment {segment} (key {key}) has {made['done']} finished and "
            f"{made['failed']} failed instance(s): run the pipeline until it succeeds, "
            "then publish"
        )
    with tempfile.TemporaryDirectory(prefix="pipl-publish-") as tmp:
        folder = Path(tmp) / "outputs"
        folder.mkdir()
        shutil.copytree(made["data"], folder / "data")
        (folder / "segment.json").write_text(json.dumps(record, indent=2) + "\n")
        built = build_product(
            folder,
            ProductSpec(
                name=product,
                type="pipeline-output",
                version=version,
                sources=list(record["sources"]),
                description=f"outputs of segment {segment} of {record['pipeline']}, key {key}",
            ),
            store=store,
            workdir=Path(tmp) / "build",
            index_url=index_url,
            uv=uv,
        )
        for path in built.files:
            client.upload(index, path)
        files = [p.name for p in built.files]
    return Published(product, version, key, index, False, [Path(f) for f in files])


def _upstream(name: str, by_name: dict[str, Prepared]) -> list[str]:
    seen: list[str] = []
    stack = [name]
    while stack:
        current = by_name[stack.pop()]
        for parent in current.parents:
            if parent not in seen:
                seen.append(parent)
                stack.append(parent)
    return [name, *seen]
