"""``process``: install the release into a fresh environment, run its ``pipl.process``
entry points (``pipl.product.process``), build the products it makes and publish them to
the stage the release is on. They move on with it: the next stage's gate lets a product
in with the approvals of the release it was made from (``pipl.ci.gates``).

Installing the release and running its processing happen in the job's sandbox
(``python -m pipl.ci.inside``), which hands back an answer and output folders; the job
checks them (names, versions and pins well-formed, outputs inside the work folder with no
link pointing out, sizes bounded) and only then builds the products and uploads them with
the CI user's token, which never enters the sandbox.

Products pin the exact upstream versions they were made from, with the sha256 of those
releases' files on the target. Product builds are reproducible: rerunning a release
uploads identical files, which the index already has, so nothing new is published.
A re-processing (an upstream release changed, ``pipl.ci.downstream``) installs the
release with that upstream and publishes products ``X.postN`` when they differ from the
last ones (``pipl.ci.builtin.remake``).
A pipeline packl's DAG runs in pipl's engine instead (``pipl.ci.builtin.pipeline``).

With ``[ci] executor = "dask"`` the install and the processing run on a Dask worker
(``build``), which hands back the products' outputs; the runner checks them and publishes
the products (``deliver``); a re-processing too. A pipeline packl's DAG runs on the runner's
host.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipl import names
from pipl.ci.builtin.files import announce, expect, release_files
from pipl.ci.builtin.jobenv import JobEnv, dists
from pipl.ci.builtin.pipeline import pipe_data, publish_pipeline
from pipl.ci.handlers import BaseHandler, Handback, HandlerFailed, JobContext
from pipl.ci.sandbox import Rejected, SandboxRunner, check_file, check_tree
from pipl.ci.yanked import refuse_yanked

if TYPE_CHECKING:
    from pipl.ci.builtin.remake import Plan

PROCESS_GROUP = "pipl.process"
MAX_ANSWER = 64 * 1024 * 1024  # bytes of the sandbox's answer
MAX_OUTPUTS = 64 * 1024**3  # bytes of one product's outputs


def _not_followed(ctx: JobContext, again: Plan) -> str:
    ignored = ", ".join(p.replace("==", " ") for p in again.ignored)
    return f"{again.reason}: not followed ({ctx.name} does not follow {ignored})"


def _summary(again: Plan | None, summary: str) -> str:
    """A job's summary, led by the re-processing's reason when it runs one."""
    return f"{again.reason}: {summary}" if again is not None else summary


class ProcessHandler(BaseHandler):
    """With ``[ci] executor = "dask"``, ``build`` (install and process, in the sandbox)
    runs on a Dask worker and ``deliver`` (check, build and publish the products) here; a
    re-processing too, its plan (``pipl.ci.builtin.remake.plan``) read from the job's spec on
    both sides."""

    rank = 25  # before promote (30): a release whose processing fails is not promoted

    def run(self, ctx: JobContext) -> str:
        from pipl.ci.builtin import remake

        refuse_yanked(ctx, "processed")
        again = remake.plan(ctx)
        if again is not None and not again.pins:
            return _not_followed(ctx, again)
        return _summary(again, self.process(ctx, again))

    def build(self, ctx: JobContext) -> Handback:
        """Install the release and run its processing in the sandbox (reads the index
        only); hand back the products' outputs folders and the processing's answer."""
        from pipl.ci.builtin import remake

        again = remake.plan(ctx)
        if again is not None and not again.pins:
            return Handback(summary=_not_followed(ctx, again))
        outdir = ctx.workdir / "outputs"
        answer = install_and_process(ctx, outdir, again.options if again is not None else [])
        if answer.get("kind") != "task":  # none, or a pipeline (run by deliver)
            return Handback(data={"kind": answer.get("kind")})
        result = checked_result(answer.get("result"), ctx.name, outdir)
        folders = [Path(item["outputs"]) for item in result["products"]]
        for item, folder in zip(result["products"], folders, strict=True):
            item["outputs"] = folder.relative_to(ctx.workdir).as_posix()
        return Handback(tuple(dict.fromkeys(folders)), {"kind": "task", "result": result})

    def deliver(self, ctx: JobContext, handback: Handback) -> str:
        """Check what the build part handed back and publish the products (the token).
        A pipeline packl's DAG runs here, in this host's sandbox, as with ``run``."""
        from pipl.ci.builtin import remake
        from pipl.ci.handback import HANDBACK_DIR

        refuse_yanked(ctx, "processed")
        if handback.summary:  # nothing to deliver: a re-processing the task does not follow
            return handback.summary
        again = remake.plan(ctx)
        kind = handback.data.get("kind")
        if kind == "pipeline":
            ctx.log("a pipeline packl: its DAG runs on the runner's host")
            return _summary(again, self.process(ctx, again))
        if kind != "task":
            return _summary(again, self.publish(ctx, {"kind": kind}, ctx.workdir, again))
        result = dict(handback.data["result"])
        mirror = ctx.workdir / HANDBACK_DIR  # where the worker's work folder came back
        products = []
        for item in result.get("products") or []:
            if not isinstance(item, dict) or not isinstance(item.get("outputs"), str):
                raise HandlerFailed(f"the build part of {ctx.name} handed back a bad product")
            products.append({**item, "outputs": str(mirror / item["outputs"])})
        answer = {"kind": "task", "result": {**result, "products": products}}
        return _summary(again, self.publish(ctx, answer, mirror / "outputs", again))

    def process(self, ctx: JobContext, again: Plan | None) -> str:
        outdir = ctx.workdir / "outputs"
        extra = again.options if again is not None else []
        answer = install_and_process(ctx, outdir, extra)
        return self.publish(ctx, answer, outdir, again)

    def publish(
        self, ctx: JobContext, answer: dict[str, Any], outdir: Path, again: Plan | None
    ) -> str:
        """Check the processing's answer and publish the products it made (or run a
        pipeline packl's DAG); the job's summary."""
        from pipl.assets.project_store import project_store
        from pipl.ci.builtin import remake
        from pipl.product.build import ProductSpec
        from pipl.product.process import publish_products

        split = offline_steps(ctx)
        kind = answer.get("kind")
        if kind == "none":
            return f"{ctx.name} {ctx.version} has no {PROCESS_GROUP} entry point: nothing to run"
        with ctx.phase("read the release's files"):
            hashes = {lk.basename: lk.sha256 for lk in release_files(ctx)}
        for basename, sha in sorted(hashes.items()):
            ctx.log(f"made from {basename} sha256={sha}")
        # products stay beside the release they were made from and pass the next
        # stage's gate with it (its approvals count for them)
        target = ctx.index
        owner, _, stage = target.partition("/")
        if owner != ctx.project.owner or stage not in ctx.project.config.stages:
            raise HandlerFailed(
                f"products go to the stage the release is on, and {target} is not a stage "
                f"of project {ctx.project.name!r}: run process on a stage only"
            )
        if kind == "pipeline":  # pipl's engine runs the DAG, in the sandbox too
            prefix = pipe_data(ctx.project, ctx.name)
            prefix.mkdir(parents=True, exist_ok=True)
            with ctx.phase("pipeline"):
                answer = run_inside(
                    ctx, "pipeline", "--prefix", str(prefix), writable=(prefix,), offline=split
                )
            return publish_pipeline(ctx, answer, prefix, target)
        if kind != "task":
            raise HandlerFailed(f"the sandbox answered an unknown kind of processing: {kind!r}")
        result = checked_result(answer.get("result"), ctx.name, outdir)
        # products pin the exact versions they were made from and record the sha256 of
        # those releases' files on the target (build_product reads them there)
        first = ctx.project.stage_index()
        kept: list[str] = []
        store = project_store(ctx.project)
        outputs = {str(item["name"]): Path(item["outputs"]) for item in result["products"]}

        def published(spec: ProductSpec) -> bool:
            # the first stage sees every stage: a version published there or later (by
            # hand, or by an earlier run) is not made again
            versions = list(ctx.client.versions(first, spec.name))
            if spec.version in versions:
                kept.append(f"{spec.name} {spec.version}")
                ctx.log(f"{spec.name} {spec.version} is published already: not made again")
                return True
            last = remake.last_of_line(versions, spec.version) if again is not None else None
            if last is not None:
                check_outputs(outputs[spec.name])
                if remake.unchanged(
                    ctx, spec, outputs[spec.name], last, store=store, index=target, first=first
                ):
                    kept.append(f"{spec.name} {last}")
                    ctx.log(f"{spec.name} would be {last} again: not published")
                    return True
            expect(ctx, target, spec.name, spec.version)
            return False

        def check_outputs(folder: Path) -> None:
            try:
                check_tree(folder, outdir, max_bytes=MAX_OUTPUTS)
            except Rejected as exc:
                raise HandlerFailed(f"the outputs of {ctx.name} {ctx.version}: {exc}") from None

        with ctx.phase("product build and upload"):
            done = publish_products(
                result,
                store=store,
                workdir=ctx.workdir / "products",
                index_url=ctx.simple_url,
                client=ctx.client,
                index=target,
                skip=published,
                timed=ctx.phase,
                check_outputs=check_outputs,
            )
        for upload in done.uploads:
            ctx.log(f"{upload.filename} -> {target}: {upload.action}")
        uploaded = [u for u in done.uploads if u.uploaded]
        with ctx.phase("announce"):
            for built in done.products:
                announce(ctx, target, built.packl.name, built.packl.pyproject.version)
        made = ", ".join(f"{p.packl.name} {p.packl.pyproject.version}" for p in done.products)
        if not uploaded:
            already = ", ".join(kept) or "all"
            return f"processing made {made or 'no new product'}; {already} published already"
        return f"processing made {made}; published {len(uploaded)} file(s) to {target}"


def install_and_process(ctx: JobContext, outdir: Path, extra: list[str]) -> dict[str, Any]:
    """Install the release into a fresh environment and run its processing, in the job's
    sandbox (``pipl.ci.inside process``); its checked answer."""
    # with [ci.sandbox] network = false, the install reaches the index, the processing
    # runs with no network at all
    split = offline_steps(ctx)
    with ctx.phase("install and process"):
        if split:
            run_inside(ctx, "process", "--outdir", str(outdir), "--install", "only", *extra)
        install = ("--install", "no") if split else ()
        return run_inside(ctx, "process", "--outdir", str(outdir), *install, *extra, offline=split)


def offline_steps(ctx: JobContext) -> bool:
    """Whether steps that need no network run without it (``[ci.sandbox] network =
    false``, and a sandbox to run them in)."""
    config = ctx.sandbox
    return config is not None and config.enabled and not config.network


def run_inside(
    ctx: JobContext,
    step: str,
    *options: str,
    writable: tuple[Path, ...] = (),
    offline: bool = False,
) -> dict[str, Any]:
    """Run ``python -m pipl.ci.inside STEP`` for the job's release in its sandbox (with
    no network when ``offline`` and the project asks for that); its answer, read from the
    work folder once checked (a failure it reports is the job's)."""
    result = ctx.workdir / f"{step}.json"
    result.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "pipl.ci.inside", step, ctx.name, ctx.version]
    argv += ["--env", str(ctx.workdir / "env"), "--index", ctx.simple_url]
    argv += [*options, "--result", str(result)]
    runner = ctx.sandboxed(writable=writable)
    if offline and isinstance(runner, SandboxRunner):
        runner = runner.offline()
    done = runner.run(argv, env=ctx.child_env(), check=False, cwd=ctx.workdir)
    output = (done.stdout + done.stderr).strip()
    if output:
        ctx.log(output)
    try:
        check_file(result, ctx.workdir, max_bytes=MAX_ANSWER)
        answer = json.loads(result.read_text())
        if not isinstance(answer, dict):
            raise ValueError("not an object")
    except (Rejected, OSError, ValueError):
        raise HandlerFailed(
            f"{step} of {ctx.name} {ctx.version} exited {done.returncode} without an "
            "answer: see the log"
        ) from None
    if "error" in answer:
        message = " ".join(str(answer["error"]).split())
        raise HandlerFailed(f"{step} of {ctx.name} {ctx.version}: {message}")
    return answer


def checked_result(result: Any, task: str, outdir: Path) -> dict[str, Any]:
    """The processing's answer, as ``publish_products`` reads it, once every product is
    well-formed: named ``TASK-...`` (the release's own names), text fields, exact pins,
    asset types by plain name, and its outputs a folder inside ``outdir``."""
    if not isinstance(result, dict) or not isinstance(result.get("products"), list):
        raise HandlerFailed(f"the processing of {task} answered no product list")
    for item in result["products"]:
        if not isinstance(item, dict):
            raise HandlerFailed(f"the processing of {task} answered a product that is no object")
        for key in ("name", "type", "version", "description", "outputs"):
            if not isinstance(item.get(key), str):
                raise HandlerFailed(f"a product of {task} has no text {key!r}")
        name = names.check_dist(item["name"], "product")
        if not names.normalize_dist(name).startswith(names.normalize_dist(task) + "-"):
            raise HandlerFailed(
                f"the processing of {task} made a product named {name}: a release's "
                f"products are named after it ({task}-...), so it cannot publish another "
                "project's name"
            )
        sources, assets = item.get("sources"), item.get("assets")
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise HandlerFailed(f"product {name}: sources must be a list of pins")
        if not isinstance(assets, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in assets.items()
        ):
            raise HandlerFailed(f"product {name}: assets must map names to type names")
        folder = Path(item["outputs"])
        if not folder.resolve().is_relative_to(outdir.resolve()) or folder.is_symlink():
            raise HandlerFailed(f"product {name}: its outputs are outside the job's folder")
    return {
        "task": str(result.get("task", task)),
        "version": str(result.get("version", "")),
        "products": result["products"],
    }


def has_processing(env: JobEnv, name: str) -> bool:
    for dist in dists(env):
        if names.normalize_dist(dist.metadata["Name"] or "") == names.normalize_dist(name):
            return any(ep.group == PROCESS_GROUP for ep in dist.entry_points)
    return False
