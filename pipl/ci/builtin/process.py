"""``process``: install the release into a fresh environment, run its ``pipl.process``
entry points (``pipl.product.process``), build the products it makes and publish them to
the index named by ``pipl_promote_to`` (the stage's own index when it names none).

Products pin the exact upstream versions they were made from, with the sha256 of those
releases' files on the target. Product builds are reproducible: rerunning a release
uploads identical files, which the index already has, so nothing new is published.
A pipeline packl's DAG runs in pipl's engine instead (``pipl.ci.builtin.pipeline``).
"""

from __future__ import annotations

import importlib.metadata as md
import sys
from dataclasses import dataclass
from pathlib import Path

from pipl.ci.builtin.files import announce, release_files
from pipl.ci.builtin.pipeline import pipeline_module, run_pipeline
from pipl.ci.handlers import HandlerFailed, JobContext
from pipl.project.project import Project
from pipl.uv import Uv
from pipl.workspace.workspace import Workspace

PROCESS_GROUP = "pipl.process"


@dataclass(frozen=True)
class JobEnv(Workspace):
    """A job's fresh environment, shaped as a workspace so processing runs as it would in
    one, installing from the job's index."""

    url: str = ""

    def index_url(self, project: Project) -> str:
        return self.url


class ProcessHandler:
    rank = 40
    per_file = False
    timeout = None
    needs_passed = False

    def accepts(self, filename: str) -> bool:
        return True

    def run(self, ctx: JobContext) -> str:
        from pipl.assets.project_store import project_store
        from pipl.product.build import ProductSpec
        from pipl.product.process import run_process

        env = JobEnv(
            name=f"ci-{ctx.job_id}",
            area="ci",
            path=ctx.workdir / "env",
            project_root=ctx.project.root,
            stage=ctx.index.rsplit("/", 1)[-1],
            url=ctx.simple_url,
        )
        env.path.mkdir(parents=True, exist_ok=True)
        uv = Uv(ctx.runner)
        with ctx.phase("uv venv"):
            uv.venv(env.venv, sys.executable)
        with ctx.phase("uv pip install"):
            uv.install(
                env.python,
                [f"{ctx.name}=={ctx.version}"],
                index_url=ctx.simple_url,
                what=f"install {ctx.name} {ctx.version} from {ctx.index}",
            )
        ctx.log(f"installed {ctx.name}=={ctx.version} from {ctx.simple_url}")
        pipeline = pipeline_module(env, ctx.name)
        if pipeline is None and not _has_processing(env, ctx.name):
            return f"{ctx.name} {ctx.version} has no {PROCESS_GROUP} entry point: nothing to run"
        with ctx.phase("read the release's files"):
            hashes = {lk.basename: lk.sha256 for lk in release_files(ctx)}
        for basename, sha in sorted(hashes.items()):
            ctx.log(f"made from {basename} sha256={sha}")
        target = ctx.promote_to or ctx.index
        owner, _, stage = target.partition("/")
        if owner != ctx.project.owner or stage not in ctx.project.config.stages:
            raise HandlerFailed(
                f"products go to {target}, which is not a stage of project "
                f"{ctx.project.name!r}: set pipl_promote_to of {ctx.index} to one"
            )
        if pipeline is not None:  # pipl's engine runs the DAG (pipl is not on the index)
            return run_pipeline(ctx, env, pipeline, target)
        # products pin the exact versions they were made from and record the sha256 of
        # those releases' files on the target (build_product reads them there)
        first = ctx.project.stage_index()
        kept: list[str] = []

        def published(spec: ProductSpec) -> bool:
            # the first stage sees every stage: a version published there or later (by
            # hand, or by an earlier run) is not made again
            if spec.version in ctx.client.versions(first, spec.name):
                kept.append(f"{spec.name} {spec.version}")
                ctx.log(f"{spec.name} {spec.version} is published already: not made again")
                return True
            return False

        with ctx.phase("processing, product build and upload"):
            result = run_process(
                ctx.project,
                env,
                ctx.name,
                store=project_store(ctx.project),
                client=ctx.client,
                stage=stage,
                workdir=ctx.workdir / "products",
                runner=ctx.runner,
                skip=published,
                timed=ctx.phase,
            )
        for upload in result.uploads:
            ctx.log(f"{upload.filename} -> {target}: {upload.action}")
        uploaded = [u for u in result.uploads if u.uploaded]
        with ctx.phase("announce"):
            for built in result.products:
                announce(ctx, target, built.packl.name, built.packl.pyproject.version)
        made = ", ".join(f"{p.packl.name} {p.packl.pyproject.version}" for p in result.products)
        if not uploaded:
            already = ", ".join(kept) or "all"
            return f"processing made {made or 'no new product'}; {already} published already"
        return f"processing made {made}; published {len(uploaded)} file(s) to {target}"


def _has_processing(env: JobEnv, name: str) -> bool:
    from pipl.names import normalize_dist

    site = sorted(Path(env.venv).glob("lib/python3*/site-packages"))
    for dist in md.distributions(path=[str(p) for p in site]):
        if normalize_dist(dist.metadata["Name"] or "") == normalize_dist(name):
            return any(ep.group == PROCESS_GROUP for ep in dist.entry_points)
    return False
