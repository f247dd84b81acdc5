"""Data flowing downstream: an upstream release -> the last product of a chain of three
levels installable from its stage.

One offline project with the default gates and the sandbox on (``pipl proj start``, its
runner with 2 workers). The chain, all processed on qa:

    flow-lib (a lib packl)  ->  task flow-a (requires flow-lib>=1.0, makes flow-a-report)
                            ->  task flow-b (requires flow-a-report>=0.1, makes flow-b-report)

Each run publishes the sdist of a new ``flow-lib`` to dev and measures until
``uv pip install flow-b-report==0.1.0.postN`` from qa succeeds: p50 of ``RUNS`` runs after
one that warms the caches, with each level's share (the lib from dev to qa: wheel, QA,
promote; each task's re-processing: its settle wait, the job, until its product's wheel
is on qa; the install). ``python bench/run.py flow``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BenchProject, print_table, timed

RUNS = 3
STAGE = "qa"
TITLE = (
    f"upstream publish -> last product of a 3-level chain installable from {STAGE} "
    f"(sandbox on, p50 of {RUNS} runs)"
)

PYPROJECT = """\
[build-system]
requires = ["flit_core>=3.12,<5"]
build-backend = "flit_core.buildapi"

[project]
name = "{name}"
version = "{version}"
description = "{what}"
requires-python = ">=3.11"
dependencies = [{deps}]
{entry}
[tool.pipl]
kind = "{kind}"
"""

TASK_MODULE = '''\
"""A task whose product says which {upstream} made it."""

import importlib.metadata as md


def check():
    return True


def process(outdir):
    used = md.version("{upstream}")
    (outdir / "report.txt").write_text(f"made with {upstream} {{used}}\\n")
    return {{"name": "{name}-report", "type": "report", "description": f"with {{used}}"}}
'''


def _sdist(tmp: Path, name: str, version: str, upstream: str = "", lowest: str = "") -> Path:
    """A lib packl (no ``upstream``) or a task packl requiring ``upstream>=lowest``."""
    from pipl.runner import Runner
    from pipl.uv import uv_bin

    module = name.replace("-", "_")
    src = tmp / "src" / f"{name}-{version}"
    (src / module).mkdir(parents=True)
    if upstream:
        entry = f'\n[project.entry-points."pipl.process"]\n{name} = "{module}:process"\n'
        deps = f'"pipl-pipe", "{upstream}>={lowest}"'
        text = TASK_MODULE.format(name=name, upstream=upstream)
        kind, what = "task", f"A task made with {upstream}"
    else:
        entry, deps, kind, what = "", "", "lib", "An upstream library"
        text = f'"""{what}."""\n\nVERSION = "{version}"\n\n\ndef check():\n    return True\n'
    (src / "pyproject.toml").write_text(
        PYPROJECT.format(name=name, version=version, what=what, deps=deps, entry=entry, kind=kind)
    )
    (src / module / "__init__.py").write_text(text)
    out = tmp / "dist"
    build = [uv_bin(), "build", "--sdist", "--no-build-isolation", "--python", sys.executable]
    Runner().run([*build, "--out-dir", out, src])
    return next(out.glob(f"{module}-{version}.tar.gz"))


def _wheel_on(anon: Any, index: str, name: str, version: str, timeout: float = 600) -> float:
    """Wait until ``name version`` has a wheel on ``index``; the time then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(lk.basename.endswith(".whl") for lk in anon.links(index, name, version)):
            return time.time()
        time.sleep(0.02)
    raise RuntimeError(f"{name} {version} did not reach {index} within {timeout:.0f} s")


def _remake(project: Any, task: str, pin: str) -> Any:
    """The re-processing job of ``task`` that ran for ``pin`` (``NAME VERSION``)."""
    from pipl.ci import db

    conn = db.open_db(project.root)
    try:
        jobs = db.list_jobs(conn, limit=100_000)
    finally:
        conn.close()
    found = [j for j in jobs if j.project == task and j.reason and pin in j.reason]
    return max(found, key=lambda j: j.id) if found else None


def _one_run(project: Any, owner: Any, env: dict[str, str], tmp: Path, n: int) -> dict[str, Any]:
    from pipl.index.session import connect

    uv = str(Path(sys.executable).parent / "uv")
    lib_version, post = f"1.{n}", f"0.1.0.post{n}"
    sdist = _sdist(tmp, "flow-lib", lib_version)
    venv = tmp / f"install-{n}"
    timed([uv, "venv", "--quiet", "--python", sys.executable, venv], env)
    index = project.stage_index(STAGE)
    t0 = time.time()
    owner.upload(project.stage_index("dev"), sdist)
    with connect(project, "anonymous") as anon:
        t_lib = _wheel_on(anon, index, "flow-lib", lib_version)
        t_a = _wheel_on(anon, index, "flow-a-report", post)
        t_b = _wheel_on(anon, index, "flow-b-report", post)
    argv = [uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python"]
    timed([*argv, "--index-url", project.simple_url(index), f"flow-b-report=={post}"], env)
    t_end = time.time()
    job_a = _remake(project, "flow-a", f"flow-lib {lib_version}")
    job_b = _remake(project, "flow-b", f"flow-a-report {post}")
    return {
        "total": t_end - t0,
        "lib": t_lib - t0,
        "a": t_a - t_lib,
        "b": t_b - t_a,
        "install": t_end - t_b,
        "a_settle": (job_a.started - job_a.created) if job_a and job_a.started else 0.0,
        "a_job": (job_a.seconds or 0.0) if job_a else 0.0,
        "b_settle": (job_b.started - job_b.created) if job_b and job_b.started else 0.0,
        "b_job": (job_b.seconds or 0.0) if job_b else 0.0,
    }


def flow_rows(project: Any, owner: Any, env: dict[str, str], tmp: Path) -> list[tuple[str, str]]:
    """Set up the chain, warm up, then ``RUNS`` measured runs; the table's rows."""
    from pipl.index.session import connect

    dev, index = project.stage_index("dev"), project.stage_index(STAGE)
    owner.upload(dev, _sdist(tmp, "flow-lib", "1.0"))
    owner.upload(dev, _sdist(tmp, "flow-a", "0.1.0", "flow-lib", "1.0"))
    with connect(project, "anonymous") as anon:
        _wheel_on(anon, index, "flow-a-report", "0.1.0")
        owner.upload(dev, _sdist(tmp, "flow-b", "0.1.0", "flow-a-report", "0.1"))
        _wheel_on(anon, index, "flow-b-report", "0.1.0")
    time.sleep(3.0)  # the set-up's last jobs end
    _one_run(project, owner, env, tmp, 1)  # warm-up
    runs = [_one_run(project, owner, env, tmp, n) for n in range(2, RUNS + 2)]

    def p50(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    total = p50("total")

    def share(key: str) -> str:
        return f"{p50(key):.2f} s ({p50(key) / total * 100:.0f}%)"

    return [
        (f"total: lib sdist to dev -> flow-b-report installed from {STAGE}, p50", f"{total:.2f} s"),
        ("  each run", ", ".join(f"{r['total']:.2f}" for r in runs) + " s"),
        (f"  level 0: flow-lib dev -> {STAGE} (wheel, QA, promote)", share("lib")),
        (f"  level 1: flow-lib on {STAGE} -> flow-a-report on {STAGE}", share("a")),
        ("      settle wait of the re-processing job", f"{p50('a_settle'):.2f} s"),
        ("      the re-processing job", f"{p50('a_job'):.2f} s"),
        (f"  level 2: flow-a-report on {STAGE} -> flow-b-report on {STAGE}", share("b")),
        ("      settle wait of the re-processing job", f"{p50('b_settle'):.2f} s"),
        ("      the re-processing job", f"{p50('b_job'):.2f} s"),
        ("  uv pip install flow-b-report (fresh venv)", share("install")),
    ]


def main() -> None:
    from pipl.index.session import connect
    from pipl.project.project import Project

    with tempfile.TemporaryDirectory(prefix="pipl-bench-flow-") as tmp_name:
        tmp = Path(tmp_name)
        with BenchProject(tmp) as bp:
            project = Project.load(bp.root)
            with connect(project, "owner") as owner:
                rows = flow_rows(project, owner, bp.env, tmp)
    print_table(TITLE, rows)


if __name__ == "__main__":
    main()
