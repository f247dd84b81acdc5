"""The Dask worker's side of a CI job (``pipl.ci.dask``): ``build_on_worker`` runs the
job's build part in a process of its own, forked by this worker's prefork process
(``pipl.ci.prefork``, started by ``pipl.ci.dask_plugin``), in a temporary folder, with no
token and no project folder, and answers with the log, the result and the packed handback.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from pipl.ci.handback import HANDBACK, pack
from pipl.ci.handlers import CiError
from pipl.ci.spec import JobSpec

WORKER_DIR_ENV = "PIPL_CI_WORKER_DIR"  # where a worker makes its jobs' folders


def build_on_worker(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run the build part of the job ``spec`` on this worker's host (a Dask task).

    The job runs in a process of its own, as on the runner's host, in a temporary folder
    removed afterwards. Returns the log, the result, the handback and its files' bytes."""
    from pipl.ci.sandbox import Rejected

    folder = Path(tempfile.mkdtemp(prefix=f"pipl-ci-{int(spec['job_id'])}-", dir=_worker_base()))
    work = folder / "work"
    answer: dict[str, Any] = {"worker": _worker_address(), "host": socket.gethostname()}
    try:
        fields = {**spec, "workdir": str(work), "project_root": "", "part": "build"}
        fields["handback_wait"] = 0.0
        JobSpec(**fields).write(folder / "spec.json")
        log = folder / "job.log"
        proc = _start_job(folder, log, _worker_env())
        try:
            answer["code"] = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            answer["code"] = None
        answer["log"] = log.read_text(errors="replace")
        answer["result"] = _json_or_none(folder / "result.json")
        answer["handback"] = _json_or_none(folder / HANDBACK)
        files: dict[str, bytes] = {}
        if answer["code"] == 0 and answer["handback"]:
            try:
                files = pack(list(answer["handback"]["files"]), work)
            except Rejected as exc:  # the job fails: a retry would hand back the same
                answer["code"] = 1
                answer["result"] = {"state": "failed", "message": str(exc)}
        answer["files"] = files
        return answer
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# One prefork process per worker process (``pipl.ci.prefork``), started when the runner
# connects (``pipl.ci.dask_plugin``) or else by the worker's first job, kept across tasks.
PREFORK: dict[str, Any] = {}
PREFORK_LOCK = threading.Lock()


def _worker_env() -> dict[str, str]:
    """A job's environment on a worker: the worker's, without pipl's CI variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PIPL_CI_")}


def _worker_base() -> Path:
    base = Path(os.environ.get(WORKER_DIR_ENV) or tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    return base


def worker_prefork() -> Any:
    """This worker process's prefork process, started if it is not running (None: it
    cannot start here; jobs start in new interpreters)."""
    from pipl.ci.prefork import Prefork

    with PREFORK_LOCK:
        prefork = PREFORK.get("process")
        if prefork is None or prefork.dead:
            try:
                prefork = PREFORK["process"] = Prefork(_worker_env(), _worker_base())
            except (CiError, OSError):
                prefork = None
        return prefork


def _start_job(folder: Path, log: Path, env: dict[str, str]) -> Any:
    """Start ``python -m pipl.ci.job`` on the folder's spec: forked by this worker's
    prefork process (pipl imported once per worker, as in the runner), else a new
    interpreter. A process in a session of its own, with ``wait(timeout)``."""
    from pipl.runner import Runner

    prefork = worker_prefork()
    if prefork is not None and prefork.compatible(env):
        try:
            return prefork.start(folder / "spec.json", log, folder, env)
        except CiError:
            pass  # a new interpreter, below
    with log.open("ab") as out:
        return Runner().spawn(
            [sys.executable, "-m", "pipl.ci.job", folder / "spec.json"],
            stdout=out,
            env=env,
            detach=True,
            cwd=folder,
        )


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):  # not in a Dask worker (called directly)
        return ""


def _json_or_none(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
