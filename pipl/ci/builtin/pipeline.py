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
published already is not published again.
"""

from __future__ import annotations

import importlib.metadata as md
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipl import names
from pipl.ci.builtin.files import announce
from pipl.ci.handlers import HandlerFailed, JobContext, NotYet
from pipl.ci.sandbox import Rejected, check_tree
from pipl.names import normalize_dist

if TYPE_CHECKING:
    from pipl.ci.builtin.process import JobEnv
    from pipl.project.project import Project

PIPELINE_GROUP = "pipl_pipe.pipeline"
KEY = re.compile(r"[0-9a-f]{1,64}")
MAX_DATA = 64 * 1024**3  # bytes of one published segment's data


def pipe_data(project: Project, pipeline: str) -> Path:
    """Where CI keeps a pipeline's data (and so its cache) between runs."""
    return project.state_dir / "pipe-data" / normalize_dist(pipeline)


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
    from pipl.errors import PipelineError
    from pipl.pipe.publish import publish_record

    if "busy" in answer:  # another release of this pipeline is running: later
        raise NotYet(f"pipeline {ctx.name} {ctx.version}: {answer['busy']}")
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
        try:
            done = publish_record(
                leaf,
                product=product,
                client=ctx.client,
                index=target,
                store=project_store(ctx.project),
                index_url=ctx.simple_url,
            )
        except PipelineError as exc:
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


def dists(env: JobEnv) -> list[md.Distribution]:
    site = sorted(Path(env.venv).glob("lib/python3*/site-packages"))
    return list(md.distributions(path=[str(p) for p in site]))
