"""pipl's two hand-made fork/worker protocols against the standard library's, same run.

CI jobs (``pipl.ci.prefork``): the runner asks its prefork process (pipl, httpx and the
handlers imported once) to fork each job. Beside it: ``multiprocessing``'s forkserver
with the same modules preloaded (``set_forkserver_preload``), whose child does what the
prefork child does (a session of its own, the log as stdout and stderr, the job's folder
and environment, the helper that runs tox preloaded, ``pipl.ci.job.run``), and the
fallback, a new interpreter (``python -m pipl.ci.job``). Each job is a real one that
stops early: a spec whose project folder does not exist, so the job prints its header,
loads its handler, fails to read the project and writes ``result.json``. Timed: from the
request to the job's process known (its pid) and to its exit code known, per job, one job
at a time.

Pipeline workers (``pipl.pipe.executors.local``): a pool of ``python -m
pipl_pipe.segment.worker`` processes run with a segment environment's interpreter, fed
over inherited pipes. Beside it: ``concurrent.futures.ProcessPoolExecutor`` with a spawn
context whose executable is that interpreter (``set_executable``). Timed: a pool of
``PIPL_BENCH_WORKERS`` (default 2) workers started and one instance run on each (the
start-up a run pays per environment), then one-instance batches on the warm pool. The
environment is a fresh venv that has pipl-pipe (and its dependencies) on its path only.

``python bench/run.py workers``; PIPL_BENCH_JOBS (default 30) jobs per CI variant.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import print_table

ROOT = Path(__file__).resolve().parent.parent
JOBS = int(os.environ.get("PIPL_BENCH_JOBS", "30"))
WORKERS = int(os.environ.get("PIPL_BENCH_WORKERS", "2"))
WARM_CALLS = 200
ROUNDS = 10  # pools started per variant


def ms(samples: list[float]) -> str:
    cut = sorted(samples)
    p90 = cut[min(len(cut) - 1, int(0.9 * len(cut)))]
    return (
        f"p50 {statistics.median(samples) * 1000:7.2f} ms  p90 {p90 * 1000:7.2f} ms  "
        f"(n={len(samples)})"
    )


# -- CI jobs -------------------------------------------------------------------------------
def job_folder(base: Path, n: int) -> tuple[Path, Path, Path]:
    """A job's folder, its spec (a job that fails early: no project there) and its log."""
    folder = base / f"job-{n}"
    folder.mkdir()
    spec = folder / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "job_id": n,
                "handler": "webhook",
                "project": "bench-pkg",
                "version": "1.0",
                "filename": "bench_pkg-1.0.tar.gz",
                "index": "bench/dev",
                "attempt": 1,
                "sha256": "0" * 64,
                "index_config": {},
                "project_root": str(base / "no-project-here"),
                "workdir": str(folder / "work"),
            }
        )
    )
    return folder, spec, folder / "log"


def check_job(folder: Path, code: int) -> None:
    result = json.loads((folder / "result.json").read_text())
    assert code == 1 and result["state"] == "failed", (code, result)


class PreforkJobs:
    """Jobs forked by pipl's prefork process."""

    name = "pipl.ci.prefork (hand-made)"

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        from pipl.ci.prefork import Prefork

        self.env = env
        self.server = Prefork(env, base)

    def start(self, folder: Path, spec: Path, log: Path) -> Callable[[], int]:
        job = self.server.start(spec, log, folder, self.env)
        return lambda: job.wait(timeout=60)

    def close(self) -> None:
        self.server.close()


def noop() -> None:
    """A first process: the forkserver is ready once it forked one."""


def forkserver_job(request: dict[str, Any]) -> None:
    """In the forkserver's child: what ``pipl.ci.prefork._child`` does for a job."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    from pipl.ci.job import run
    from pipl.ci.prefork import Helper, PreloadedRunner

    helper = Helper()  # as the prefork child: the helper that runs tox preloaded
    code = run(Path(request["spec"]), runner=PreloadedRunner(helper))
    sys.stdout.flush()
    sys.stderr.flush()
    helper.close()
    os._exit(code)


class ForkserverJobs:
    """Jobs forked by the standard library's forkserver, pipl's job modules preloaded."""

    name = "multiprocessing forkserver + preload"

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        from multiprocessing import forkserver

        from pipl.ci.prefork import PRELOAD

        self.env = env
        self.ctx = multiprocessing.get_context("forkserver")
        self.ctx.set_forkserver_preload(["__main__", *PRELOAD, "bench.bench_workers"])
        forkserver.ensure_running()  # returns at once: the preloading goes on in the server
        first = self.ctx.Process(target=noop)
        first.start()
        first.join()

    def start(self, folder: Path, spec: Path, log: Path) -> Callable[[], int]:
        request = {"spec": str(spec), "log": str(log), "cwd": str(folder), "env": self.env}
        proc = self.ctx.Process(target=forkserver_job, args=(request,))
        proc.start()

        def wait() -> int:
            proc.join(60)
            assert proc.exitcode is not None
            return proc.exitcode

        return wait

    def close(self) -> None:
        pass


class InterpreterJobs:
    """The runner's fallback: each job a new interpreter."""

    name = "new interpreter (python -m pipl.ci.job)"

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        self.env = env

    def start(self, folder: Path, spec: Path, log: Path) -> Callable[[], int]:
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "pipl.ci.job", str(spec)],
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=folder,
                start_new_session=True,
            )
        return lambda: proc.wait(60)

    def close(self) -> None:
        pass


def ci_main() -> None:
    """The variants take turns, job by job, so that each meets the same machine load."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPL_")}
    env["PYTHONPATH"] = str(ROOT)  # the forkserver child imports this module
    rows = []
    with tempfile.TemporaryDirectory(prefix="pipl-bench-jobs-") as tmp:
        base = Path(tmp)
        variants: list[Any] = []
        ready: dict[str, float] = {}
        for kind in (PreforkJobs, ForkserverJobs, InterpreterJobs):
            t0 = time.perf_counter()
            variants.append(kind(base, env))
            ready[kind.name] = time.perf_counter() - t0
        started: dict[str, list[float]] = {v.name: [] for v in variants}
        ended: dict[str, list[float]] = {v.name: [] for v in variants}
        try:
            for n in range(JOBS):
                for i, variant in enumerate(variants):
                    if isinstance(variant, InterpreterJobs) and n % 3:
                        continue  # a new interpreter is slow: a third as many
                    folder, spec, log = job_folder(base, n * 10 + i)
                    t0 = time.perf_counter()
                    wait = variant.start(folder, spec, log)
                    started[variant.name].append(time.perf_counter() - t0)
                    code = wait()
                    ended[variant.name].append(time.perf_counter() - t0)
                    check_job(folder, code)
        finally:
            for variant in variants:
                variant.close()
    for variant in variants:
        name = variant.name
        if not isinstance(variant, InterpreterJobs):
            rows.append((f"{name}: ready once", f"{ready[name] * 1000:7.1f} ms"))
        rows.append((f"{name}: request -> pid", ms(started[name])))
        rows.append((f"{name}: request -> exit code", ms(ended[name])))
    print_table(f"CI job start-up, one job at a time, variants in turn ({JOBS} jobs)", rows)


# -- pipeline workers ----------------------------------------------------------------------
def segment_env(base: Path) -> Path:
    """A fresh venv whose path has pipl-pipe and its dependencies, and not pipl: the
    interpreter a segment environment gives a pipeline's workers."""
    import filelock
    import tomlkit

    import pipl_pipe

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(base)], check=True)
    python = base / "bin" / "python"
    found = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    )
    lib = base / "segment-lib"  # the three packages alone, linked from pipl's environment
    lib.mkdir()
    for module in (pipl_pipe, tomlkit, filelock):
        package = Path(str(module.__file__)).resolve().parent
        (lib / package.name).symlink_to(package)
    (Path(found.stdout.strip()) / "bench_segment_env.pth").write_text(f"{lib}\n")
    return python


def segment_work(base: Path) -> tuple[Any, Callable[[int], list[Any]]]:
    from pipl_pipe.segment.worker import SegmentJob, Task

    job = SegmentJob(
        name="square",
        key="k1",
        root=str(base / "square_k1"),
        code='seg_output = [len(get_data_fn("x"))]\n',
        filename="square.py",
    )

    def tasks(n: int) -> list[Any]:
        return [Task(f"i{n}", n, {})]

    return job, tasks


def bench_local(python: Path, base: Path) -> tuple[float, list[float]]:
    from pipl.pipe.executors.local import Worker
    from pipl.runner import Runner

    job, tasks = segment_work(base / "local")
    t0 = time.perf_counter()
    pool = [Worker(str(python), Runner()) for _ in range(WORKERS)]
    for n, worker in enumerate(pool):
        assert worker.call(job, tasks(n))[0].ok
    start = time.perf_counter() - t0
    warm = []
    try:
        for n in range(WARM_CALLS):
            t1 = time.perf_counter()
            assert pool[n % WORKERS].call(job, tasks(n))[0].ok
            warm.append(time.perf_counter() - t1)
    finally:
        for worker in pool:
            worker.close()
    return start, warm


def bench_pool(python: Path, base: Path) -> tuple[float, list[float]]:
    from pipl_pipe.segment.worker import run_batch

    job, tasks = segment_work(base / "pool")
    ctx = multiprocessing.get_context("spawn")
    ctx.set_executable(str(python))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(WORKERS, mp_context=ctx) as pool:
        futures = [pool.submit(run_batch, job, tasks(n)) for n in range(WORKERS)]
        assert all(f.result()[0].ok for f in futures)
        start = time.perf_counter() - t0
        warm = []
        for n in range(WARM_CALLS):
            t1 = time.perf_counter()
            assert pool.submit(run_batch, job, tasks(n)).result()[0].ok
            warm.append(time.perf_counter() - t1)
    ctx.set_executable(sys.executable)
    return start, warm


def pipe_main() -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="pipl-bench-workers-") as tmp:
        base = Path(tmp)
        python = segment_env(base / "venv")
        variants = [
            ("pipl.pipe.executors.local (hand-made)", bench_local),
            ("ProcessPoolExecutor, spawn, set_executable", bench_pool),
        ]
        starts: dict[str, list[float]] = {name: [] for name, _ in variants}
        warm: dict[str, list[float]] = {name: [] for name, _ in variants}
        for _ in range(ROUNDS):  # in turn, so that each meets the same machine load
            for name, bench in variants:
                start, calls = bench(python, base)
                starts[name].append(start)
                warm[name].extend(calls)
        for name, _ in variants:
            rows.append((f"{name}: {WORKERS} workers started, 1 instance each", ms(starts[name])))
            rows.append((f"{name}: one 1-instance batch, warm", ms(warm[name])))
        rows.append(("which sys.path a worker imports from", paths_seen(python)))
    print_table(f"Pipeline workers in a segment environment's interpreter ({WORKERS})", rows)


def paths_seen(python: Path) -> str:
    """Whether a pool worker imports from the environment's own path: a spawn child takes
    its parent's ``sys.path``, so segment code would import the runner's packages."""
    own = subprocess.run(
        [python, "-c", "import sys; print(sys.path)"], check=True, capture_output=True, text=True
    ).stdout
    from pipl_pipe.segment.worker import SegmentJob, Task

    from pipl.pipe.executors.local import Worker
    from pipl.runner import Runner

    with tempfile.TemporaryDirectory(prefix="pipl-bench-path-") as tmp:
        code = "import sys\nseg_output = [list(sys.path)]\n"
        job = SegmentJob(name="path", key="p", root=tmp, code=code, filename="path.py")
        worker = Worker(str(python), Runner())
        try:
            hand_made = worker.call(job, [Task("i", None, {})])[0].output[0]
        finally:
            worker.close()
    ctx = multiprocessing.get_context("spawn")
    ctx.set_executable(str(python))
    try:
        with ProcessPoolExecutor(1, mp_context=ctx) as pool:
            child = pool.submit(eval, "__import__('sys').path").result()
    finally:
        ctx.set_executable(sys.executable)
    # python -m puts the folder it starts in first: not one of the parent's entries
    parents = [p for p in sys.path if p and p not in own and p != os.getcwd()]

    def leaked(seen: list[str]) -> str:
        found = [p for p in parents if p in seen]
        return f"{len(found)} entries of the parent's" + (f" (as {found[-1]})" if found else "")

    return f"hand-made: {leaked(hand_made)}; ProcessPoolExecutor: {leaked(child)}"


def main() -> None:
    ci_main()
    pipe_main()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
