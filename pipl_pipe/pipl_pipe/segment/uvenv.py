"""A segment's own environment on a Dask worker: made there from the project index with uv,
cached by its lock.

The engine resolves a segment's requirements into a lock on the project index
(``pipl.pipe.envs``) and sends the lock with each batch of instances. A worker makes the
environment once per lock, under ``$PIPL_PIPE_ENVS/<lock hash>/`` (default
``~/.cache/pipl-pipe/envs``), under a file lock so that two batches on one host make it
once, and runs the batch in that environment's interpreter
(``python -m pipl_pipe.segment.worker``), as the local executor does.

The worker's host needs uv (on PATH, beside the worker's Python, or ``PIPL_PIPE_UV``),
the engine's Python minor version, and HTTP access to the project index.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path

from filelock import FileLock

from pipl_pipe.errors import PipeError
from pipl_pipe.segment.worker import Result, SegmentJob, Task

ENVS_ENV = "PIPL_PIPE_ENVS"
UV_ENV = "PIPL_PIPE_UV"
LOCK_FILE = "pipl-lock.txt"


def envs_dir() -> Path:
    found = os.environ.get(ENVS_ENV)
    return Path(found) if found else Path.home() / ".cache" / "pipl-pipe" / "envs"


def lock_digest(lock: str) -> str:
    """The environment's name: the same hash of the lock as the engine's ``.envs/``."""
    return hashlib.sha256(lock.encode()).hexdigest()[:16]


def environment(lock: str, index_url: str, python_version: str) -> Path:
    """The interpreter of the environment of ``lock`` on this host, made if missing."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if python_version and python_version != here:
        raise PipeError(
            f"this worker runs Python {here}, the segment's environment was resolved for "
            f"Python {python_version}: run the workers with Python {python_version}"
        )
    base = envs_dir()
    base.mkdir(parents=True, exist_ok=True)
    digest = lock_digest(lock)
    target = base / digest
    python = target / "bin" / "python"
    with FileLock(str(base / f"{digest}.lock")):
        if not python.exists():
            _make(target, lock, index_url)
    return python


def _uv() -> str:
    for found in (
        os.environ.get(UV_ENV),
        str(Path(sys.executable).parent / "uv"),
        shutil.which("uv"),
    ):
        if found and os.access(found, os.X_OK):
            return found
    raise PipeError(f"uv is not on this worker: install it or set {UV_ENV}")


def _make(target: Path, lock: str, index_url: str) -> None:
    """Build the environment beside its final place, then rename it there."""
    uv = _uv()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        venv = [uv, "venv", "--quiet", "--relocatable", "--no-project"]
        _uv_run([*venv, "--python", sys.executable, str(tmp)], env)
        (tmp / LOCK_FILE).write_text(lock + "\n")
        python = str(tmp / "bin" / "python")
        argv = [uv, "pip", "sync", "--quiet", "--python", python, "--index-url", index_url]
        _uv_run([*argv, str(tmp / LOCK_FILE)], env)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _uv_run(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise PipeError(
            f"making a segment environment on this worker failed (uv {argv[1]} exit "
            f"{done.returncode}): {lines[-1] if lines else 'no output'}"
        )


def run_batch_in_env(
    lock: str, index_url: str, python_version: str, job: SegmentJob, tasks: list[Task]
) -> list[Result]:
    """Run one batch in the environment of ``lock`` on this host (a Dask task): one
    worker process of that interpreter, over two pipes segment code cannot write to."""
    python = environment(lock, index_url, python_version)
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    proc = subprocess.Popen(
        [str(python), "-m", "pipl_pipe.segment.worker", str(to_child_r), str(to_parent_w)],
        pass_fds=(to_child_r, to_parent_w),
    )
    os.close(to_child_r)
    os.close(to_parent_w)
    outbox = Connection(to_child_w, readable=False)
    inbox = Connection(to_parent_r, writable=False)
    try:
        outbox.send((job, tasks))
        status, payload = inbox.recv()
    except EOFError:
        code = proc.wait()
        return [
            Result(t.name, False, [], 0.0, 0.0, f"worker process died (exit {code})") for t in tasks
        ]
    finally:
        outbox.close()
        inbox.close()
        proc.wait()
    if status != "ok":
        raise PipeError(f"segment {job.name}: worker failed: {payload.splitlines()[-1]}")
    results: list[Result] = payload
    return results
