"""What the ``process`` handler runs inside a job's sandbox: ``python -m pipl.ci.inside``.

pipl's own code, run by pipl's interpreter, but in the sandbox, because everything it
touches is the uploader's: installing the release (an sdist's build backend), its
processing, a pipeline's segments. It sees the job's work folder (and a pipeline's own
data folder) and nothing of the project; it holds no credential. Its answer goes to a
JSON file in the work folder (never stdout, which is the job's log), which the job reads
and checks before it builds and uploads anything:

- ``process NAME VERSION``: a fresh environment with the release, then its processing
  (``--install only`` and ``--install no`` split the two, so that the processing can run
  with no network):
  ``{"kind": "none"}``, ``{"kind": "pipeline"}`` (run ``pipeline`` next, with the data
  folder) or ``{"kind": "task", "result": ...}`` (what ``pipl_pipe.process`` answered);
  a re-processing (``--remake N --upstream NAME==VERSION``) installs that upstream release
  with it and makes products ``X.postN`` pinning it (``pipl_pipe.process``);
- ``pipeline NAME``: the DAG of the release installed by ``process``, run with pipl's
  engine; ``{"kind": "pipeline", "ok": ..., "segments": [...], "leaves": [...]}`` with a
  ``segment_record`` per leaf when every segment passed, or ``{"busy": message}``;
- ``qa-checks NAME VERSION``: a fresh environment with the release's file (``--file``),
  the owner's policy packls (``--policy DIST=FILE``) and pipl-pipe, then
  ``pipl_pipe.qa_check`` for each policy and for the packl's kind contract
  (``--contract KIND``): ``{"checks": [{"name", "results" or "error", "output"}]}``
  (``--install`` splits it as for ``process``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipl.fsutil import atomic_write


@contextmanager
def phase(name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        print(f"phase {name} took {time.perf_counter() - start:.2f} s", flush=True)


def fresh_env(env: Any, requirements: list[str], index_url: str, what: str) -> None:
    """A new virtualenv at ``env`` with ``requirements`` installed from ``index_url``."""
    from pipl.runner import Runner
    from pipl.uv import Uv

    env.path.mkdir(parents=True, exist_ok=True)
    uv = Uv(Runner())
    with phase("uv venv"):
        uv.venv(env.venv, sys.executable)
    with phase("uv pip install"):
        uv.install(
            env.python, requirements, index_url=index_url, what=f"install {what} from {index_url}"
        )


def _env(env_dir: Path, index_url: str) -> Any:
    from pipl.ci.builtin.jobenv import JobEnv

    return JobEnv(
        name="ci",
        area="ci",
        path=env_dir,
        project_root=env_dir,
        stage="",
        url=index_url,
    )


def process(
    name: str,
    version: str,
    env_dir: Path,
    index_url: str,
    outdir: Path,
    *,
    install: str = "yes",
    remake: int = 0,
    upstream: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``install``: ``yes`` (install, then process), ``only`` (stop once installed:
    ``{"kind": "installed"}``) or ``no`` (installed by an ``only`` run before).
    ``upstream``: exact pins installed with the release (a re-processing, ``remake``)."""
    from pipl.ci.builtin.pipeline import pipeline_module
    from pipl.ci.builtin.process import has_processing
    from pipl.product.process import make_outputs
    from pipl.runner import Runner

    env = _env(env_dir, index_url)
    if install != "no":
        fresh_env(env, [f"{name}=={version}", *upstream], index_url, f"{name} {version}")
        what = " ".join([f"{name}=={version}", *upstream])
        print(f"installed {what} from {index_url}", flush=True)
    if install == "only":
        return {"kind": "installed"}
    if pipeline_module(env, name) is not None:
        return {"kind": "pipeline"}
    if not has_processing(env, name):
        return {"kind": "none"}
    outdir.mkdir(parents=True, exist_ok=True)
    run_env = dict(os.environ, VIRTUAL_ENV=str(env.venv), PIP_INDEX_URL=index_url)
    run_env["PATH"] = f"{env.bin_dir}{os.pathsep}{run_env.get('PATH', '')}"
    if remake:
        run_env["PIPL_REMAKE"] = str(remake)
        run_env["PIPL_REMAKE_FOR"] = ",".join(pin.split("==", 1)[0] for pin in upstream)
    with phase("processing"):
        result = make_outputs(env, name, outdir, run_env, Runner())
    return {"kind": "task", "result": result}


def pipeline(name: str, env_dir: Path, index_url: str, prefix: Path) -> dict[str, Any]:
    from pipl.ci.builtin.jobenv import dists
    from pipl.ci.builtin.pipeline import pipeline_module
    from pipl.errors import PipelineBusy, PipelineError
    from pipl.names import normalize_dist
    from pipl.pipe import installed_pipeline, prepare, run
    from pipl.pipe.inputs import input_names, installed_at
    from pipl.pipe.publish import segment_record

    env = _env(env_dir, index_url)
    init = pipeline_module(env, name)
    if init is None:
        return {"kind": "none"}
    installed = {normalize_dist(d.metadata["Name"] or ""): d.version for d in dists(env)}
    try:
        dag = installed_pipeline(
            init,
            name,
            prefix,
            python=str(env.python),
            index_url=index_url,
            # what its products record as made from (the job pins its own release anyway)
            version=installed.get(normalize_dist(name), ""),
        )
        # the environment lock in every key: the pins without the pipeline packl itself, so a
        # new release recomputes only what its code, parameters or parents changed, nor the
        # packls its segments take as inputs (each input item holds its packl's version)
        site = sorted(str(p) for p in Path(env.venv).glob("lib/python3*/site-packages"))
        taken = input_names(dag.segments, installed_at(site)) | {normalize_dist(name)}
        dag.env_lock = "\n".join(
            f"{n}=={v}" for n, v in sorted(installed.items()) if n not in taken
        )
        print(f"pipeline {name}: data in {dag.prefix}", flush=True)
        with phase("pipeline run"):
            report = run(dag)
        segments = [
            {
                "name": seg.name,
                "key": seg.key,
                "ran": seg.ran,
                "reused": seg.reused,
                "failed": seg.failed,
                "blocked": seg.blocked,
                "failures": [[str(i), str(e), str(lg)] for i, e, lg in seg.failures],
            }
            for seg in report.segments
        ]
        leaves = []
        if report.ok:
            prepared = prepare(dag)
            parents = {p for seg in prepared for p in seg.parents}
            leaves = [
                segment_record(dag, s.name, report.segment(s.name).instances)
                for s in prepared
                if s.name not in parents
            ]
    except PipelineBusy as exc:
        return {"kind": "pipeline", "busy": str(exc)}
    except PipelineError as exc:
        return {"kind": "pipeline", "error": str(exc)}
    return {"kind": "pipeline", "ok": report.ok, "segments": segments, "leaves": leaves}


def qa_checks(
    name: str,
    version: str,
    env_dir: Path,
    index_url: str,
    release: Path,
    policies: list[str],
    contract: str | None,
    *,
    install: str = "yes",
) -> dict[str, Any]:
    """The owner's checks of the release (``pipl_pipe.qa_check``), each in a process of
    the environment's Python."""
    import subprocess

    env = _env(env_dir, index_url)
    files = dict(p.split("=", 1) for p in policies)
    if install != "no":
        wanted = [str(release), *files.values(), "pipl-pipe"]
        fresh_env(env, wanted, index_url, f"{name} {version} and the QA policies")
        print(f"installed {release.name} and {', '.join(files) or 'no policy'}", flush=True)
    if install == "only":
        return {"kind": "installed"}
    runs = [(f"policy:{dist}", ["--policy", dist]) for dist in files]
    if contract:
        runs.append(("contract", ["--contract", contract]))
    checks: list[dict[str, Any]] = []
    for label, options in runs:
        result = env_dir / f"qa-check-{len(checks)}.json"
        argv = [str(env.python), "-m", "pipl_pipe.qa_check", name, version, *options]
        with phase(label):
            done = subprocess.run(  # a fixed argv, no shell
                [*argv, "--result", str(result)], capture_output=True, text=True, check=False
            )
        output = (done.stdout + done.stderr).strip()
        check: dict[str, Any] = {"name": label, "command": argv, "output": output[-20000:]}
        try:
            answer = json.loads(result.read_text())
        except (OSError, ValueError):
            answer = {"ok": False, "error": f"exited {done.returncode} without an answer"}
        if isinstance(answer, dict) and answer.get("ok"):
            check["results"] = answer.get("data")
        else:
            check["error"] = str(answer.get("error") if isinstance(answer, dict) else answer)
        checks.append(check)
    return {"checks": checks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipl.ci.inside")
    parser.add_argument("step", choices=["process", "pipeline", "qa-checks"])
    parser.add_argument("name")
    parser.add_argument("version")
    parser.add_argument("--env", type=Path, required=True)
    parser.add_argument("--index", required=True)
    parser.add_argument("--outdir", type=Path)
    parser.add_argument("--prefix", type=Path)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--install", choices=["yes", "only", "no"], default="yes")
    parser.add_argument("--remake", type=int, default=0)
    parser.add_argument("--upstream", action="append", default=[])
    parser.add_argument("--file", type=Path)
    parser.add_argument("--policy", action="append", default=[])
    parser.add_argument("--contract")
    args = parser.parse_args(argv)
    from pipl.errors import PiplError

    try:
        if args.step == "process":
            answer = process(
                args.name,
                args.version,
                args.env,
                args.index,
                args.outdir,
                install=args.install,
                remake=args.remake,
                upstream=tuple(args.upstream),
            )
        elif args.step == "qa-checks":
            answer = qa_checks(
                args.name,
                args.version,
                args.env,
                args.index,
                args.file,
                args.policy,
                args.contract,
                install=args.install,
            )
        else:
            answer = pipeline(args.name, args.env, args.index, args.prefix)
    except PiplError as exc:
        answer = {"error": str(exc)}
    atomic_write(args.result, json.dumps(answer, default=repr))
    return 0


if __name__ == "__main__":
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # not used here
    sys.exit(main())
