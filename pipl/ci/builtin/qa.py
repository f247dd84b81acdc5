"""``qa``: run the release's tox environments against the project index (tox with
tox-uv, like ``devpi test``) and attach the results to the tested file as devpi
toxresults, which ``devpi list`` shows.

tox runs in the job's sandbox (``pipl.ci.sandbox``): the tests are the uploader's code.
Its result file is checked (a regular file of bounded size, a JSON object) before it is
attached. The tox configuration comes from the sdist (``tox.ini``, ``tox.toml``, ``[tool.tox]`` in
pyproject, ``[tox:tox]`` in setup.cfg); a packl without one gets one environment running
its import and kind contract (``MODULE.check()``, where the module has one). A release
with no tests passes with QA "none" (its summary starts with ``QA none``), which no stage
gate that needs QA accepts (``pipl.ci.gates``). The wheel
is what gets installed when there is one, else the sdist. A rerun of the same job finds
its earlier result and reports it.
"""

from __future__ import annotations

import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from pipl import names
from pipl.ci.builtin.files import download, existing_toxresult, release_files, unpack
from pipl.ci.gates import QA_NONE
from pipl.ci.handlers import HandlerFailed, JobContext, NotYet, is_sdist
from pipl.ci.sandbox import Rejected, SandboxRunner, check_file

# a release with a wheel and no sdist yet waits this long for the sdist of the same publish
SDIST_GRACE = 5.0
MAX_RESULT = 16 * 1024 * 1024  # bytes of tox's result file

CONTRACT_TOX = """\
[tox]
envlist = contract

[testenv:contract]
description = the packl imports, and its kind contract (check()) holds where it has one
commands = python -c "import sys, {module} as m; c = getattr(m, 'check', None); \
    sys.exit(0 if c is None or c() else 1)"
"""


class QaHandler:
    rank = 20
    per_file = False
    timeout = None
    needs_passed = False

    def accepts(self, filename: str) -> bool:
        return True

    def run(self, ctx: JobContext) -> str:
        with ctx.phase("read the release's files"):
            files = release_files(ctx)
        sdist = next((lk for lk in files if is_sdist(lk.basename)), None)
        wheel = next((lk for lk in files if lk.basename.endswith(".whl")), None)
        if sdist is None:
            if wheel is not None and time.time() - ctx.created < SDIST_GRACE:
                raise NotYet(f"{ctx.name} {ctx.version}: a wheel, no sdist yet; waiting for it")
            return f"{QA_NONE}: {ctx.name} {ctx.version} has no sdist on {ctx.index}, no tests"
        target = wheel or sdist
        tag = f"qa:{ctx.index}"
        with ctx.phase("look for an earlier result"):
            earlier = existing_toxresult(ctx, target, tag)
        if earlier is not None:
            return _verdict(ctx, earlier, f"result of an earlier run on {target.basename}")
        with ctx.phase("download and unpack"):
            source = unpack(download(ctx, sdist), ctx.workdir / "src")
            config = _tox_config(source, ctx.workdir)
            if config is None:
                return f"{QA_NONE}: {sdist.basename} has no tox configuration and is no packl"
            installpkg = (
                download(ctx, target)
                if target is not sdist
                else ctx.workdir / "files" / sdist.basename
            )
        result_json = ctx.workdir / "toxresult.json"
        argv = [
            sys.executable,
            "-m",
            "tox",
            "run",
            "-c",
            str(config),
            "--installpkg",
            str(installpkg),
            "--result-json",
            str(result_json),
            "--workdir",
            str(ctx.workdir / ".tox"),
        ]
        ctx.log(f"$ {' '.join(argv)}")
        runner = ctx.sandboxed()
        with ctx.phase("tox"):  # the release's tests and build backend: in the sandbox
            if isinstance(runner, SandboxRunner) and runner.network_optional:
                # [ci.sandbox] network = false: install with the index, test with no network
                setup = [*argv[:4], "--notest", *argv[4:]]
                prepared = runner.run(setup, cwd=source, env=ctx.child_env(), check=False)
                ctx.log((prepared.stdout + prepared.stderr).strip())
                argv = [*argv[:4], "--skip-pkg-install", *argv[4:]]
                runner = runner.offline()
            done = runner.run(argv, cwd=source, env=ctx.child_env(), check=False)
        ctx.log((done.stdout + done.stderr).strip())
        try:
            check_file(result_json, ctx.workdir, max_bytes=MAX_RESULT)
            data: dict[str, Any] = json.loads(result_json.read_text())
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except (OSError, ValueError, Rejected):
            raise HandlerFailed(
                f"tox wrote no result for {target.basename} (exit {done.returncode}): see the log"
            ) from None
        data["pipl"] = {"tag": tag, "job": ctx.job_id, "returncode": done.returncode}
        with ctx.phase("attach the toxresult"):
            ctx.client.upload_toxresult(target, data)
        ctx.log(f"toxresult attached to {target.basename}")
        return _verdict(ctx, data, f"tox on {target.basename}")


def _verdict(ctx: JobContext, data: dict[str, Any], what: str) -> str:
    # tox's own packaging environments (.pkg...) are not the release's tests
    envs = {k: v for k, v in (data.get("testenvs") or {}).items() if not k.startswith(".")}
    failed = []
    for name, env in envs.items():
        for step in (env.get("test") or []) + (env.get("setup") or []):
            if str(step.get("retcode", "0")) != "0":
                failed.append(name)
                break
    code = (data.get("pipl") or {}).get("returncode", 0)
    if failed or code:
        raise HandlerFailed(
            f"QA of {ctx.name} {ctx.version} failed: {what}: "
            f"{', '.join(failed) or f'tox exit {code}'} failed"
        )
    return f"QA passed: {what}: {', '.join(envs) or 'no environments'}"


def _tox_config(source: Path, workdir: Path) -> Path | None:
    for name in ("tox.ini", "tox.toml"):
        if (source / name).is_file():
            return source / name
    setup_cfg = source / "setup.cfg"
    if setup_cfg.is_file() and "[tox:tox]" in setup_cfg.read_text(errors="replace"):
        return setup_cfg
    pyproject = source / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        data = tomllib.loads(pyproject.read_text())
    except tomllib.TOMLDecodeError:
        return None
    if "tox" in data.get("tool", {}):
        return pyproject
    if "pipl" in data.get("tool", {}):
        name = data.get("project", {}).get("name", "")
        module = names.normalize_dist(names.check_dist(name)).replace("-", "_")
        path = workdir / "tox-contract" / "tox.ini"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(CONTRACT_TOX.format(module=module))
        return path
    return None
