"""``process`` of a pipeline packl: pipl's engine runs the DAG of the release installed in
the job's fresh environment, then publishes the outputs of its leaf segments as products.

The packl's own ``pipl.process`` entry point would need pipl in that environment; pipl's
engine runs it instead, in the job's sandbox (``pipl.ci.inside pipeline``), each segment
in the fresh environment's interpreter (which has the packl, its dependencies and
pipl-pipe). The sandbox sees the pipeline's own data folder, read-write, and no other.
The data prefix is kept across runs, in ``PROJECT/.pipl/pipe-data/<pipeline>``; the
environment lock in every key is the fresh environment's pins without the pipeline packl
itself, so a new release of the pipeline recomputes only the segments whose code,
parameters or parents changed. The job checks what the sandbox hands back, then
publishes each leaf segment as a product whose version derives from its key: a key
published already is not published again. Each product pins what it was made from, as
the job decides it (``checked_sources``): the job's own release, always, and the segment
packl releases its upstream segments ran, with the sha256 of their files on the index.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipl import names
from pipl.ci.builtin.files import announce, expect
from pipl.ci.builtin.jobenv import JobEnv, dists
from pipl.ci.handlers import HandlerFailed, JobContext, NotYet
from pipl.ci.sandbox import Rejected, check_tree
from pipl.errors import UsageError
from pipl.names import normalize_dist
from pipl.pipe.store import pipe_data as pipe_data  # where CI keeps each pipeline's data

PIPELINE_GROUP = "pipl_pipe.pipeline"
KEY = re.compile(r"[0-9a-f]{1,64}")
PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9][A-Za-z0-9.!+_-]*)")
MAX_DATA = 64 * 1024**3  # bytes of one published segment's data
MAX_UPSTREAM = 1000  # segments upstream of one leaf
MAX_INPUTS = 10_000  # input packls of one leaf


def pipeline_module(env: JobEnv, name: str) -> Path | None:
    """The ``__init__.py`` of the pipeline module of release ``name`` installed in ``env``
    (None: it is not a pipeline packl)."""
    for dist in dists(env):
        if normalize_dist(dist.metadata["Name"] or "") != normalize_dist(name):
            continue
        for ep in dist.entry_points:
            if ep.group == PIPELINE_GROUP:
                module = ep.value.partition(":")[0].strip()
                init = Path(str(dist.locate_file(module.replace(".", "/")))) / "__init__.py"
                return init if init.is_file() else None
    return None


def publish_pipeline(ctx: JobContext, answer: dict[str, Any], prefix: Path, target: str) -> str:
    """Publish the leaves of the pipeline run the sandbox answered with (``pipl.ci.inside
    pipeline``) to ``target``, each checked first: its key well-formed, its data folder
    inside the pipeline's own ``prefix`` with no link pointing out, its size bounded."""
    from pipl.assets.project_store import project_store
    from pipl.errors import PacklError, PipelineError
    from pipl.pipe.publish import publish_record

    if "busy" in answer:  # another release of this pipeline is running: later
        raise NotYet(f"pipeline {ctx.name} {ctx.version}: {answer['busy']}")
    if "error" in answer:
        raise HandlerFailed(f"pipeline {ctx.name} {ctx.version}: {str(answer['error'])[:500]}")
    segments = answer.get("segments")
    if not isinstance(segments, list) or not isinstance(answer.get("leaves"), list):
        raise HandlerFailed(f"pipeline {ctx.name} {ctx.version}: the run answered no segments")
    for seg in segments:
        ctx.log(
            f"segment {seg.get('name')} key {seg.get('key')}: {seg.get('ran')} ran, "
            f"{seg.get('reused')} reused, {seg.get('failed')} failed {seg.get('blocked')}".rstrip()
        )
        for instance, error, log in seg.get("failures") or []:
            ctx.log(f"  {instance}: {error} (log {log})")
    if not answer.get("ok"):
        failed = ", ".join(
            str(s.get("name")) for s in segments if s.get("failed") or s.get("blocked")
        )
        raise HandlerFailed(
            f"pipeline {ctx.name} {ctx.version}: segments {failed} failed (see the log)"
        )
    made, kept = [], []
    for leaf in answer["leaves"]:
        record = leaf.get("record") if isinstance(leaf, dict) else None
        if not isinstance(record, dict):
            raise HandlerFailed(f"pipeline {ctx.name}: a leaf segment answered no record")
        segment, key = str(record.get("segment")), str(record.get("key"))
        names.check_simple(segment, "segment")
        if not KEY.fullmatch(key) or record.get("pipeline") != ctx.name:
            raise HandlerFailed(f"pipeline {ctx.name}: segment {segment} answered a bad key")
        try:
            check_tree(Path(str(leaf.get("data"))), prefix, max_bytes=MAX_DATA)
        except Rejected as exc:
            raise HandlerFailed(f"pipeline {ctx.name}, segment {segment}: {exc}") from None
        product = names.check_dist(f"{ctx.name}-{segment}".replace("_", "-"), "product")
        record, sources = checked_sources(ctx.name, ctx.version, record)
        ctx.log(f"{product}: segment {segment} key {key}, made from {', '.join(sources)}")
        try:
            # the manifest records the sha256 of the sources' files on the target, where
            # each must be (as for a task's products)
            done = publish_record(
                {**leaf, "record": record},
                product=product,
                client=ctx.client,
                index=target,
                store=project_store(ctx.project),
                index_url=ctx.simple_url,
                sources=sources,
                before_upload=lambda name, version: expect(ctx, target, name, version),
            )
        except (PipelineError, PacklError, UsageError) as exc:
            raise HandlerFailed(f"pipeline {ctx.name} {ctx.version}: {exc}") from None
        if done.already:
            kept.append(f"{done.name} {done.version}")
            ctx.log(f"{done.name} {done.version} is published already: not made again")
        else:
            made.append(f"{done.name} {done.version}")
            ctx.log(f"{done.name} {done.version} -> {target}: {len(done.files)} file(s)")
            announce(ctx, target, done.name, done.version)
    ran = sum(int(s.get("ran") or 0) for s in segments)
    reused = sum(int(s.get("reused") or 0) for s in segments)
    summary = f"pipeline {ctx.name}: {ran} instance(s) ran, {reused} reused; "
    if not made:
        return summary + f"{', '.join(kept) or 'no product'} published already"
    return summary + f"published {', '.join(made)} to {target}"


def checked_sources(
    name: str, version: str, record: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The sources of a leaf's product, decided by the job rather than taken from the
    sandbox: the job's release ``name==version``, always (the DAG, the parameters and the
    scripts of the segments whose code it holds), and the segment packl releases that the
    record's upstream segments name, and the input packls it took (``inputs``), each an
    exact pin of a well-formed name and version (publishing refuses one that is not on
    the index). A segment whose code is in the
    pipeline packl (an empty ``dist``) comes from the job's release, and a pin of the
    pipeline packl at another version is refused. Returns the record with those pins (its
    ``segment.json``) and the sorted sources."""
    release = f"{name}=={version}"
    upstream = record.get("upstream")
    if not isinstance(upstream, dict) or not 0 < len(upstream) <= MAX_UPSTREAM:
        raise HandlerFailed(f"pipeline {name}: a leaf segment answered no upstream segments")
    checked: dict[str, dict[str, str]] = {}
    for segment, entry in upstream.items():
        where = f"pipeline {name}, upstream segment {str(segment)[:80]!r}"
        if not isinstance(entry, dict):
            raise HandlerFailed(f"{where}: not an object")
        key, dist = entry.get("key"), entry.get("dist")
        try:
            names.check_simple(str(segment), "segment")
        except UsageError as exc:
            raise HandlerFailed(f"pipeline {name}: {exc}") from None
        if not isinstance(key, str) or not KEY.fullmatch(key):
            raise HandlerFailed(f"{where}: a bad key")
        checked[segment] = {"key": key, "dist": _checked_pin(name, version, dist, where)}
    inputs = record.get("inputs") or []
    if not isinstance(inputs, list) or len(inputs) > MAX_INPUTS:
        raise HandlerFailed(f"pipeline {name}: a leaf segment answered bad input packls")
    pins = sorted({_checked_pin(name, version, pin, f"pipeline {name}, input") for pin in inputs})
    sources = sorted({release, *(e["dist"] for e in checked.values()), *pins})
    checked_record = {**record, "version": version, "upstream": checked, "inputs": pins}
    return {**checked_record, "sources": sources}, sources


def _checked_pin(name: str, version: str, dist: Any, where: str) -> str:
    from packaging.version import InvalidVersion, Version

    if dist == "":
        return f"{name}=={version}"
    found = PIN.fullmatch(dist) if isinstance(dist, str) and len(dist) <= 300 else None
    if found is None:
        raise HandlerFailed(f"{where}: its packl {str(dist)[:80]!r} is no exact pin NAME==VERSION")
    dist_name, dist_version = found.groups()
    try:
        names.check_dist(dist_name, "segment packl")
        Version(dist_version)
    except (UsageError, InvalidVersion) as exc:
        raise HandlerFailed(f"{where}: {exc}") from None
    if normalize_dist(dist_name) == normalize_dist(name):
        if dist_version != version:
            raise HandlerFailed(
                f"{where}: its code is said to come from {name} {dist_version}, but the "
                f"release processed is {version}"
            )
        return f"{name}=={version}"
    return f"{dist_name}=={dist_version}"
