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

With ``[ci] executor = "dask"`` tox runs on a Dask worker (``build``), which hands back its
result file; the runner checks it, attaches it and runs the owner's checks (``deliver``).
"""

from __future__ import annotations

import json
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from pipl import names
from pipl.ci.builtin.files import download, existing_toxresult, release_files, unpack
from pipl.ci.builtin.qa_policy import load_qa_settings, run_owner_checks
from pipl.ci.gates import QA_NONE
from pipl.ci.handlers import (
    BaseHandler,
    Handback,
    HandlerFailed,
    JobContext,
    NotYet,
    is_sdist,
)
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
    """The release's own tests (``build``: tox in the sandbox, which only reads the
    index) and what needs the token (``deliver``: attach the result, the owner's checks);
    with ``[ci] executor = "dask"`` the build runs on a Dask worker, which hands back tox's
    result file, and the runner checks it before attaching it."""

    rank = 20

    def run(self, ctx: JobContext) -> str:
        return self.deliver(ctx, self.build(ctx))

    def build(self, ctx: JobContext) -> Handback:
        """Run the release's own tox environments; hand back tox's result file (or an
        earlier run's result, or nothing to run) and what ``deliver`` needs to know."""
        with ctx.phase("read the release's files"):
            files = release_files(ctx)
        sdist = next((lk for lk in files if is_sdist(lk.basename)), None)
        wheel = next((lk for lk in files if lk.basename.endswith(".whl")), None)
        if sdist is None:
            if wheel is not None and time.time() - ctx.created < SDIST_GRACE:
                raise NotYet(f"{ctx.name} {ctx.version}: a wheel, no sdist yet; waiting for it")
            return Handback(data={"sdist": None})
        target = wheel or sdist
        with ctx.phase("download and unpack"):
            source = unpack(download(ctx, sdist), ctx.workdir / "src")
            if target is not sdist:
                download(ctx, target)
        kind = _packl_kind(source)
        data: dict[str, Any] = {"sdist": sdist.basename, "target": target.basename, "kind": kind}
        contract = kind is not None and _contracts(ctx)
        config = _tox_config(source, ctx.workdir, contract=contract)
        if config is None:
            return Handback(data={**data, "own": None})
        # the release's own tests, or (a packl without a tox configuration) its contract
        data["own"] = not str(config).startswith(str(ctx.workdir / "tox-contract"))
        tag = f"qa:{ctx.index}"
        with ctx.phase("look for an earlier result"):
            earlier = existing_toxresult(ctx, target, tag)
        if earlier is not None:
            return Handback(data={**data, "earlier": earlier})
        installpkg = ctx.workdir / "files" / target.basename
        result_json, returncode = self.tox(ctx, source, config, installpkg)
        made = (result_json,) if os.path.lexists(result_json) else ()
        return Handback(made, {**data, "returncode": returncode})

    def tox(
        self, ctx: JobContext, source: Path, config: Path, installpkg: Path
    ) -> tuple[Path, int]:
        """Run tox in the job's sandbox: its result file and exit code."""
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
        return result_json, done.returncode

    def deliver(self, ctx: JobContext, handback: Handback) -> str:
        """Check and attach tox's result, run the owner's checks, say what QA earned."""
        settings = load_qa_settings(ctx.project)
        data = handback.data
        files = {lk.basename: lk for lk in release_files(ctx)}
        if data.get("sdist") is None:
            wheel = next((lk for name, lk in files.items() if name.endswith(".whl")), None)
            none = f"{QA_NONE}: {ctx.name} {ctx.version} has no sdist on {ctx.index}, no tests"
            if wheel is None or not settings.checks:
                return none
            installpkg = download(ctx, wheel)
            return _owner_verdict(
                ctx, None, run_owner_checks(ctx, wheel, installpkg, settings, None)
            )
        target = files.get(str(data["target"]))
        if target is None:
            raise HandlerFailed(f"{data['target']} is no longer on {ctx.index}")
        kind = data.get("kind") if settings.contracts else None
        own: tuple[str, bool] | None = None
        if data.get("own") is not None and (data["own"] or kind is not None):
            if data.get("earlier") is not None:
                what = f"result of an earlier run on {target.basename}"
                own = _verdict(ctx, dict(data["earlier"]), what), bool(data["own"])
            else:
                result = handback.files[0] if handback.files else None
                own = self.attach(ctx, target, result, int(data["returncode"])), bool(data["own"])
        # the kind contract of a packl without a tox configuration ran as its tox
        owner_kind = kind if own is not None and own[1] else None
        installpkg = ctx.workdir / "files" / target.basename
        if (settings.checks or owner_kind) and not installpkg.is_file():
            installpkg = download(ctx, target)  # the build ran on a Dask worker
        checks = run_owner_checks(ctx, target, installpkg, settings, owner_kind)
        if own is None and not checks:
            why = "is no packl" if data.get("kind") is None else "[qa] contracts = false"
            return f"{QA_NONE}: {data['sdist']} has no tox configuration and {why}"
        return _owner_verdict(ctx, own[0] if own else None, checks)

    def attach(self, ctx: JobContext, target: Link, result: Path | None, returncode: int) -> str:
        """Attach tox's result file (checked: a regular file of bounded size, a JSON
        object) to ``target``; the verdict it says. A failure raises ``HandlerFailed``."""
        try:
            if result is None:
                raise OSError("no result file")
            check_file(result, ctx.workdir, max_bytes=MAX_RESULT)
            data: dict[str, Any] = json.loads(result.read_text())
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except (OSError, ValueError, Rejected):
            raise HandlerFailed(
                f"tox wrote no result for {target.basename} (exit {returncode}): see the log"
            ) from None
        data["pipl"] = {"tag": f"qa:{ctx.index}", "job": ctx.job_id, "returncode": returncode}
        with ctx.phase("attach the toxresult"):
            ctx.client.upload_toxresult(target, data)
        ctx.log(f"toxresult attached to {target.basename}")
        return _verdict(ctx, data, f"tox on {target.basename}")


def _contracts(ctx: JobContext) -> bool:
    """``[qa] contracts`` of the project; on a Dask worker, which has no project folder,
    true: the contract runs there and the runner drops its result when it is off."""
    if ctx.worker_resources is not None:
        return True
    return load_qa_settings(ctx.project).contracts


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
