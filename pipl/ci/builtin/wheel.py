"""``wheel``: build the wheel of an uploaded sdist that has none, and upload it beside the
sdist with its build log (attached to the wheel as a devpi toxresult named ``build``).

An sdist that flit_core builds without running its code (``pipl.packl.flit``: a packl's,
with its version and description in ``[project]``) is built in the job's process with
pipl's flit_core, when that satisfies its build requirements. Any other is built by
``uv build`` in the job's sandbox (``pipl.ci.sandbox``), in an isolated environment whose
build requirements come from the index (the base index carries flit_core and, for
setuptools sdists, setuptools and wheel), so it works offline. The wheel it hands back
is checked (a regular file of bounded size, of the sdist's project and version) before
the job uploads it.

The build (``build``) and the upload (``deliver``) are two parts: with ``[ci] executor =
"dask"`` the build runs on a Dask worker, which sends the wheel back, and the upload stays
with the runner, which checks the wheel again before sending it with its token. A packl
whose ``[tool.pipl] resources`` asks for more than that worker was chosen for (an ABI, a
GPU) is sent again to a worker that has them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipl.ci.builtin.files import (
    download,
    existing_toxresult,
    release_files,
    release_resources,
    the_file,
    toxresult,
    unpack,
)
from pipl.ci.handlers import (
    BaseHandler,
    Handback,
    HandlerFailed,
    JobContext,
    check_resources,
    is_sdist,
)
from pipl.ci.sandbox import check_file
from pipl.index.distfile import read_distfile
from pipl.names import normalize_dist
from pipl.packl import flit
from pipl.uv import uv_bin

TAG = "wheel-build"
MAX_WHEEL = 1024**3  # bytes: a bigger wheel is refused


class WheelHandler(BaseHandler):
    rank = 10
    per_file = True

    def accepts(self, filename: str) -> bool:
        return is_sdist(filename)

    def run(self, ctx: JobContext) -> str:
        return self.deliver(ctx, self.build(ctx))

    def deliver(self, ctx: JobContext, handback: Handback) -> str:
        """Check the wheel built and upload it with its build log (trusted: the token)."""
        if handback.summary:
            return handback.summary
        argv, build_log = list(handback.data["argv"]), str(handback.data["build_log"])
        return _upload(ctx, list(handback.files), argv, build_log)

    def build(self, ctx: JobContext) -> Handback:
        """Build the wheel (the sdist's backend in the sandbox); reads the index only."""
        with ctx.phase("read the release's files"):
            sdist = the_file(ctx)
            wheels = [lk for lk in release_files(ctx) if lk.basename.endswith(".whl")]
        if wheels:
            return Handback(
                summary=f"{ctx.name} {ctx.version} has a wheel already ({wheels[0].basename})"
            )
        with ctx.phase("download"):
            path = download(ctx, sdist)
        out = ctx.workdir / "wheel"
        source = unpack(path, ctx.workdir / "src")
        check_resources(ctx, release_resources(source))  # a packl may ask for a worker
        if flit.applies(source):
            with ctx.phase("build"):
                argv = ["flit_core", str(flit.version()), "wheel", ctx.filename]
                built = flit.build(source, out, sdist=False)
                build_log = f"built {built[0].name} with flit_core {flit.version()} in process"
                ctx.log(build_log)
            return Handback(tuple(built), {"argv": argv, "build_log": build_log})
        argv = [
            uv_bin(),
            "build",
            "--wheel",
            "--python",
            sys.executable,
            "--default-index",
            ctx.simple_url,
            "--out-dir",
            str(out),
            str(path),
        ]
        ctx.log(f"$ {' '.join(argv)}")
        with ctx.phase("build"):  # the sdist's build backend is the uploader's code
            done = ctx.sandboxed().run(
                argv,
                env=ctx.child_env({"SOURCE_DATE_EPOCH": "315532800"}),
                check=False,
                cwd=ctx.workdir,
            )
        build_log = (done.stdout + done.stderr).strip()
        ctx.log(build_log)
        if done.returncode != 0:
            lines = [line for line in build_log.splitlines() if line.strip()]
            raise HandlerFailed(
                f"building a wheel of {ctx.filename} failed (uv exit {done.returncode}): "
                f"{lines[-1] if lines else 'no output'}"
            )
        return Handback(tuple(sorted(out.glob("*.whl"))), {"argv": argv, "build_log": build_log})


def _upload(ctx: JobContext, built: list[Path], argv: list[str], build_log: str) -> str:
    """Upload the one wheel built beside its sdist, with its build log: a regular file
    of bounded size, of the job's project and version (whatever built it)."""
    if len(built) != 1:
        raise HandlerFailed(f"building {ctx.filename} made {len(built)} wheels, not one")
    check_file(built[0], ctx.workdir, max_bytes=MAX_WHEEL)
    dist = read_distfile(built[0])
    if normalize_dist(dist.name) != normalize_dist(ctx.name):
        raise HandlerFailed(f"{built[0].name} is a wheel of {dist.name}, its sdist of {ctx.name}")
    if dist.version != ctx.version:
        raise HandlerFailed(f"{built[0].name} says version {dist.version}, its sdist {ctx.version}")
    with ctx.phase("upload"):
        result = ctx.client.upload(ctx.index, dist)
    ctx.log(f"{result.filename} -> {ctx.index}: {result.action}")
    with ctx.phase("attach the build log"):
        link = next(lk for lk in release_files(ctx) if lk.basename == dist.filename)
        if existing_toxresult(ctx, link, TAG) is None:
            command = {
                "command": [*argv[:-1], ctx.filename],
                "retcode": "0",
                "output": build_log,
            }
            ctx.client.upload_toxresult(link, toxresult(ctx, "build", [command], tag=TAG))
    return f"built {dist.filename} and uploaded it to {ctx.index}"
