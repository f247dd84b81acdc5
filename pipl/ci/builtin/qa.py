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
from pipl.ci.builtin.qa_policy import load_qa_settings, run_owner_checks
from pipl.ci.gates import QA_NONE
from pipl.ci.handlers import BaseHandler, HandlerFailed, JobContext, NotYet, is_sdist
from pipl.ci.sandbox import Rejected, SandboxRunner, check_file
from pipl.index.links import Link

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


class QaHandler(BaseHandler):
    rank = 20

    def run(self, ctx: JobContext) -> str:
        settings = load_qa_settings(ctx.project)
        with ctx.phase("read the release's files"):
            files = release_files(ctx)
        sdist = next((lk for lk in files if is_sdist(lk.basename)), None)
        wheel = next((lk for lk in files if lk.basename.endswith(".whl")), None)
        if sdist is None:
            if wheel is not None and time.time() - ctx.created < SDIST_GRACE:
                raise NotYet(f"{ctx.name} {ctx.version}: a wheel, no sdist yet; waiting for it")
            none = f"{QA_NONE}: {ctx.name} {ctx.version} has no sdist on {ctx.index}, no tests"
            if wheel is None or not settings.checks:
                return none
            installpkg = download(ctx, wheel)
            return _owner_verdict(
                ctx, None, run_owner_checks(ctx, wheel, installpkg, settings, None)
            )
        target = wheel or sdist
        with ctx.phase("download and unpack"):
            source = unpack(download(ctx, sdist), ctx.workdir / "src")
            installpkg = (
                download(ctx, target)
                if target is not sdist
                else ctx.workdir / "files" / sdist.basename
            )
        kind = _packl_kind(source) if settings.contracts else None
        own = self.own_tests(ctx, source, target, installpkg, contract=kind is not None)
        # the kind contract of a packl without a tox configuration ran as its tox
        owner_kind = kind if own is not None and own[1] else None
        checks = run_owner_checks(ctx, target, installpkg, settings, owner_kind)
        if own is None and not checks:
            why = "is no packl" if _packl_kind(source) is None else "[qa] contracts = false"
            return f"{QA_NONE}: {sdist.basename} has no tox configuration and {why}"
        return _owner_verdict(ctx, own[0] if own else None, checks)

    def own_tests(
        self, ctx: JobContext, source: Path, target: Link, installpkg: Path, *, contract: bool
    ) -> tuple[str, bool] | None:
        """The release's own tox environments (a packl without a tox configuration: its
        kind contract, when ``contract``): what passed, and whether they were the
        release's own tests; None: no tests. A failure raises ``HandlerFailed``."""
        tag = f"qa:{ctx.index}"
        config = _tox_config(source, ctx.workdir, contract=contract)
        if config is None:
            return None
        own = not str(config).startswith(str(ctx.workdir / "tox-contract"))
        with ctx.phase("look for an earlier result"):
            earlier = existing_toxresult(ctx, target, tag)
        if earlier is not None:
            return _verdict(ctx, earlier, f"result of an earlier run on {target.basename}"), own
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
        return _verdict(ctx, data, f"tox on {target.basename}"), own


def _owner_verdict(ctx: JobContext, own: str | None, checks: list[tuple[str, bool, str]]) -> str:
    """The summary once the release's own tests passed (``own``; None: it has none) and
    the owner's checks ran: a failed check fails QA, a passed one earns it."""
    failed = [f"{label} ({why})" for label, ok, why in checks if not ok]
    if failed:
        raise HandlerFailed(f"QA of {ctx.name} {ctx.version} failed: {'; '.join(failed)}")
    parts = [own] if own else []
    if checks:
        parts.append(f"owner checks passed: {', '.join(label for label, _, _ in checks)}")
    return "QA passed: " + "; ".join(p.removeprefix("QA passed: ") for p in parts)


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


def _packl_kind(source: Path) -> str | None:
    """The ``[tool.pipl] kind`` of an unpacked sdist's ``pyproject.toml`` (None: no packl)."""
    try:
        data = tomllib.loads((source / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    pipl = data.get("tool", {}).get("pipl")
    if not isinstance(pipl, dict):
        return None
    return str(pipl.get("kind") or "packl")


def _tox_config(source: Path, workdir: Path, *, contract: bool = True) -> Path | None:
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
    if contract and "pipl" in data.get("tool", {}):
        name = data.get("project", {}).get("name", "")
        module = names.normalize_dist(names.check_dist(name)).replace("-", "_")
        path = workdir / "tox-contract" / "tox.ini"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(CONTRACT_TOX.format(module=module))
        return path
    return None
