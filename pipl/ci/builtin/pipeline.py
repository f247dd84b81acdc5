"""``process`` of a pipeline packl: pipl's engine runs the DAG of the release installed in
the job's fresh environment, then publishes the outputs of its leaf segments as products.

The packl's own ``pipl.process`` entry point would need pipl in that environment; the
engine runs here instead, and each segment in the fresh environment's interpreter (which
has the packl, its dependencies and pipl-pipe). The data prefix is kept across runs, in
``PROJECT/.pipl/pipe-data/<pipeline>``; the environment lock in every key is the fresh
environment's pins without the pipeline packl itself, so a new release of the pipeline
recomputes only the segments whose code, parameters or parents changed. A product's
version derives from its segment's key: a key published already is not published again.
"""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path
from typing import TYPE_CHECKING

from pipl.ci.builtin.files import announce
from pipl.ci.handlers import HandlerFailed, JobContext, NotYet
from pipl.names import normalize_dist

if TYPE_CHECKING:
    from pipl.ci.builtin.process import JobEnv
    from pipl.project.project import Project

PIPELINE_GROUP = "pipl_pipe.pipeline"


def pipe_data(project: Project, pipeline: str) -> Path:
    """Where CI keeps a pipeline's data (and so its cache) between runs."""
    return project.state_dir / "pipe-data" / normalize_dist(pipeline)


def pipeline_module(env: JobEnv, name: str) -> Path | None:
    """The ``__init__.py`` of the pipeline module of release ``name`` installed in ``env``
    (None: it is not a pipeline packl)."""
    for dist in _dists(env):
        if normalize_dist(dist.metadata["Name"] or "") != normalize_dist(name):
            continue
        for ep in dist.entry_points:
            if ep.group == PIPELINE_GROUP:
                module = ep.value.partition(":")[0].strip()
                init = Path(str(dist.locate_file(module.replace(".", "/")))) / "__init__.py"
                return init if init.is_file() else None
    return None


def run_pipeline(ctx: JobContext, env: JobEnv, init: Path, target: str) -> str:
    """Run the DAG (only what is not computed yet), publish its leaves to ``target``."""
    from pipl.assets.project_store import project_store
    from pipl.errors import PipelineBusy, PipelineError
    from pipl.pipe import installed_pipeline, prepare, run
    from pipl.pipe.publish import publish_segment

    pins = sorted(
        f"{normalize_dist(d.metadata['Name'] or '')}=={d.version}"
        for d in _dists(env)
        if normalize_dist(d.metadata["Name"] or "") != normalize_dist(ctx.name)
    )
    pipeline = installed_pipeline(
        init,
        ctx.name,
        pipe_data(ctx.project, ctx.name),
        python=str(env.python),
        env_lock="\n".join(pins),
        index_url=ctx.simple_url,
    )
    ctx.log(f"pipeline {ctx.name}: data in {pipeline.prefix}")
    try:
        report = run(pipeline)
        for seg in report.segments:
            ctx.log(
                f"segment {seg.name} key {seg.key}: {seg.ran} ran, {seg.reused} reused, "
                f"{seg.failed} failed {seg.blocked}".rstrip()
            )
            for instance, error, log in seg.failures:
                ctx.log(f"  {instance}: {error} (log {log})")
        if not report.ok:
            failed = ", ".join(s.name for s in report.segments if s.failed or s.blocked)
            raise HandlerFailed(
                f"pipeline {ctx.name} {ctx.version}: segments {failed} failed (see the log)"
            )
        prepared = prepare(pipeline)
        parents = {p for seg in prepared for p in seg.parents}
        leaves = [seg.name for seg in prepared if seg.name not in parents]
        made, kept = [], []
        for leaf in leaves:
            done = publish_segment(
                pipeline,
                leaf,
                client=ctx.client,
                index=target,
                store=project_store(ctx.project),
                index_url=ctx.simple_url,
            )
            if done.already:
                kept.append(f"{done.name} {done.version}")
                ctx.log(f"{done.name} {done.version} is published already: not made again")
            else:
                made.append(f"{done.name} {done.version}")
                ctx.log(f"{done.name} {done.version} -> {target}: {len(done.files)} file(s)")
                announce(ctx, target, done.name, done.version)
    except PipelineBusy as exc:  # another release of this pipeline is running: later
        raise NotYet(f"pipeline {ctx.name} {ctx.version}: {exc}") from None
    except PipelineError as exc:
        raise HandlerFailed(f"pipeline {ctx.name} {ctx.version}: {exc}") from None
    ran = sum(s.ran for s in report.segments)
    reused = sum(s.reused for s in report.segments)
    summary = f"pipeline {ctx.name}: {ran} instance(s) ran, {reused} reused; "
    if not made:
        return summary + f"{', '.join(kept) or 'no product'} published already"
    return summary + f"published {', '.join(made)} to {target}"


def _dists(env: JobEnv) -> list[md.Distribution]:
    site = sorted(Path(env.venv).glob("lib/python3*/site-packages"))
    return list(md.distributions(path=[str(p) for p in site]))
