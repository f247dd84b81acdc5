"""Publishing a segment's outputs as a product packl.

The product (default name ``<pipeline>-<segment>``) holds two assets: ``data`` (the
segment's instance folders) and ``segment.json`` (its key, parameters, multiplex, the
instances' outputs and the exact upstream packl versions). Its version is the pipeline
packl's (``1.2.0``); made again from the same release with other inputs (a new version
of a packl the pipeline takes as input), it is ``1.2.0.post1``, then ``.post2``...
(``product_version``). Its summary names the key and a digest of what it holds
(``made <digest>``: the key and the instances' outputs), so "already published?" is one
lookup on the index: publishing the same outputs again does nothing. A pipeline of
unknown version (or one with a post, dev or local part) gives ``0.0.<key as an integer>``.

Its sources are the releases its inputs came from: the pipeline packl's release (its DAG,
parameters and the scripts of the segments whose code it holds) and the segment packls
of the segment and the segments upstream of it, each pinned ``NAME==VERSION``, with the
sha256 of that release's files on the index it is published to.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipl import names
from pipl.errors import PipelineError
from pipl.pipe.db import open_db
from pipl.pipe.inputs import packl_inputs
from pipl.pipe.pipeline import Pipeline
from pipl.pipe.prepared import Prepared, prepare

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
    unpinned: list[str] = field(default_factory=list)  # sources not on the index: left out


def key_version(key: str) -> str:
    return f"0.0.{int(key, 16)}"


def made_digest(record: dict[str, Any]) -> str:
    """What a product holds, in 16 hex digits: the segment's key and its instances'
    outputs (an instance's name derives from its input, so from its input packls')."""
    held = json.dumps([record["key"], record.get("outputs", {})], sort_keys=True, default=repr)
    return hashlib.sha256(held.encode()).hexdigest()[:16]


def product_version(record: dict[str, Any], existing: dict[str, Any]) -> tuple[str, bool]:
    """(the version a segment's product gets, whether ``existing`` has it already):
    ``existing`` is ``{version: metadata}`` of the product on the index."""
    from packaging.version import InvalidVersion, Version

    made = f"made {made_digest(record)}"
    for version, data in existing.items():
        if isinstance(data, dict) and made in str(data.get("summary") or "").split(", "):
            return version, True
    try:
        base = Version(str(record.get("version") or ""))
    except InvalidVersion:
        base = None
    if base is None or base.is_postrelease or base.is_devrelease or base.local:
        version = key_version(str(record["key"]))
        return version, version in existing
    line = str(record["version"])
    posts = [_post(v, base) for v in existing]
    taken = [n for n in posts if n is not None]
    if not taken:
        return line, False
    return f"{line}.post{max(taken) + 1}", False


def _post(version: str, base: Any) -> int | None:
    """N of ``version`` if it is ``base`` (0) or ``base.postN``, else None."""
    from packaging.version import InvalidVersion, Version

    try:
        v = Version(version)
    except InvalidVersion:
        return None
    if v.release != base.release or v.epoch != base.epoch or v.pre != base.pre:
        return None
    if v.is_devrelease or v.local:
        return None
    return v.post or 0


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
    # a source that is not on the index (a packl of the workspace not published yet) is
    # left out: a product pinned to it could not be installed from there
    sources = list(record["record"]["sources"])
    unpinned = [pin for pin in sources if not _on_index(client, index, pin)]
    done = publish_record(
        record,
        product=product,
        client=client,
        index=index,
        store=store,
        index_url=index_url,
        uv=uv,
        sources=[pin for pin in sources if pin not in unpinned],
    )
    return done if done.already else replace(done, unpinned=unpinned)


def _on_index(client: IndexClient, index: str, pin: str) -> bool:
    name, _, version = pin.partition("==")
    return bool(client.release_files(index, name, version))


def release_pin(pipeline: Pipeline) -> str:
    """``NAME==VERSION`` of the pipeline packl, empty when its version is unknown."""
    return f"{pipeline.name}=={pipeline.version}" if pipeline.version else ""


def segment_record(
    pipeline: Pipeline, segment: str, instances: list[str] | None = None
) -> dict[str, Any]:
    """What publishing ``segment`` needs, as JSON: its key, parameters, multiplex,
    upstream keys and packls (``dist``: the release each one's code came from), its
    sources (those releases and the pipeline's own, ``NAME==VERSION``), the outputs of
    its finished instances, the folder of its data (``data``) and its instance counts
    (``done``, ``failed``). Made where the pipeline runs (in CI, inside the job's
    sandbox). ``instances``: the instances of the run to publish (default: every finished
    one of the key), so an instance made from an input packl's older version is left out.
    """
    by_name = {s.name: s for s in prepare(pipeline)}
    if segment not in by_name:
        raise PipelineError(f"no segment {segment!r} in {pipeline.name} ({', '.join(by_name)})")
    seg = by_name[segment]
    with open_db(pipeline.prefix) as db:
        counts = db.counts(seg.key)
        outputs = {n: out for n, out in sorted(db.done(seg.key).items())}
    if instances is not None:
        wanted = set(instances)
        outputs = {n: out for n, out in outputs.items() if n in wanted}
        counts = {**counts, "done": len(outputs)}
    upstream = _upstream(seg.name, by_name)
    release = release_pin(pipeline)
    # a segment packl's code comes from its release; a script's from the pipeline packl's
    # (not in the key: a new release of the pipeline keeps the keys of unchanged segments)
    dists = {
        u: by_name[u].code.dist or ("" if by_name[u].code.entry else release) for u in upstream
    }
    # the input packls of this segment and those upstream of it, as this run took them
    taken = packl_inputs({u: pipeline.segments.get(u, {}) for u in upstream}, pipeline.python)
    inputs = sorted({f"{i['packl']}=={i['version']}" for items in taken.values() for i in items})
    record = {
        "pipeline": pipeline.name,
        "version": pipeline.version,
        "segment": segment,
        "key": seg.key,
        "params": seg.params,
        "multiplex": str(seg.code.multiplex),
        "upstream": {u: {"key": by_name[u].key, "dist": dists[u]} for u in upstream},
        "inputs": inputs,
        "sources": sorted({release, *dists.values(), *inputs} - {""}),
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
    sources: list[str] | None = None,
    before_upload: Callable[[str, str], None] | None = None,
) -> Published:
    """Build and upload the product of a ``segment_record`` as ``product``; its version
    derives from the key, and a key published already is not published again.

    ``sources`` (default: the record's) are the exact pins it is made from; the manifest
    records the sha256 of their files on ``index``, where each must be (else
    ``PacklError``), and ``segment.json`` lists them too. ``before_upload(name, version)``
    is called before the first file is sent."""
    from pipl.product.build import ProductSpec, build_product

    record = dict(made["record"])
    if sources is not None:
        record["sources"] = sorted(set(sources))
    key, segment = str(record["key"]), str(record["segment"])
    version, already = product_version(record, client.versions(index, product))
    if already:
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
        data = Path(made["data"])
        (folder / "data").mkdir()
        for instance in record.get("outputs") or {}:
            names.check_simple(str(instance), "instance")
            if (data / instance).is_dir():  # this run's instances only
                shutil.copytree(data / instance, folder / "data" / instance)
        (folder / "segment.json").write_text(json.dumps(record, indent=2) + "\n")
        built = build_product(
            folder,
            ProductSpec(
                name=product,
                type="pipeline-output",
                version=version,
                sources=list(record["sources"]),
                description=(
                    f"outputs of segment {segment} of {record['pipeline']}, key {key}, "
                    f"made {made_digest(record)}"
                ),
            ),
            store=store,
            workdir=Path(tmp) / "build",
            index_url=index_url,
            uv=uv,
            client=client,
            index=index,
        )
        if before_upload is not None:
            before_upload(product, version)
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
