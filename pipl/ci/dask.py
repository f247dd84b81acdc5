"""CI jobs on a Dask cluster: ``[ci] executor = "dask"`` with ``scheduler = "tcp://HOST:PORT"``.

What runs where, for a handler with a worker part (``build``/``deliver``: ``wheel``,
``qa`` and ``process``):

- the runner sends the job's ``JobSpec`` (as a dict) to the cluster, asking for the Dask
  worker resources of the handler (``[ci.resources]`` or the handler's ``resources``),
  and starts the job's local process with ``part = "deliver"``, which waits for
  ``handback.json`` (``pipl.ci.dask_jobs``);
- a Dask worker runs ``build_on_worker``: ``python -m pipl.ci.job`` with the spec's
  ``part = "build"``, forked by the worker's prefork process (``pipl.ci.dask_plugin``),
  in a temporary folder of its own host, with no token and no project folder (the job's
  client reads the index anonymously at ``server_url``); the untrusted code runs in that
  host's sandbox as it would here. The worker sends back the job's log, its result and
  the files and folders the build handed back (regular files, bounded);
- the runner writes those files into the job's work folder, ``handback.json`` last: the
  deliver process checks them again and uploads them with the CI user's token, which
  never leaves the runner's host.

A worker killed mid-job: the scheduler gives the task to another worker (Dask's
``allowed-failures``), and the upload happens once, after the one answer the runner
reads. A cluster that cannot be reached, or that lost the task, is an infrastructure
error: the runner retries the job later. Handlers without a worker part run locally.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

from pipl.ci.handlers import CiError, Handback
from pipl.ci.spec import JobSpec

HANDBACK = "handback.json"  # beside spec.json: what the build part handed back
HANDBACK_DIR = "handback"  # under the job's work folder: the files sent back by a worker
MAX_HANDBACK = 1024**3  # bytes, all files together
WORKER_DIR_ENV = "PIPL_CI_WORKER_DIR"  # where a worker makes its jobs' folders
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+ -]{0,254}")  # one name of a path
MAX_DEPTH = 32  # folders deep, in what a worker sends back


# -- the handback: what ``build`` gives ``deliver`` ------------------------------------
def write_handback(folder: Path, workdir: Path, handback: Handback) -> None:
    """``handback.json`` in the job folder: files relative to the work folder."""
    from pipl.fsutil import atomic_write

    files = [str(Path(p).resolve().relative_to(workdir.resolve())) for p in handback.files]
    data = {"files": files, "data": handback.data, "summary": handback.summary}
    atomic_write(folder / HANDBACK, json.dumps(data))


def read_handback(folder: Path, workdir: Path) -> Handback:
    """The handback a build part left, its files checked to lie in the work folder."""

    data = json.loads((folder / HANDBACK).read_text())
    files = tuple(_checked(workdir / rel, workdir) for rel in data["files"])
    return Handback(files, dict(data.get("data") or {}), str(data.get("summary") or ""))


def _checked(path: Path, workdir: Path) -> Path:
    """A handed-back ``path``: a regular file, or a folder of them, inside ``workdir``."""
    from pipl.ci.sandbox import check_file, check_tree

    if path.is_dir() and not path.is_symlink():
        check_tree(path, workdir, max_bytes=MAX_HANDBACK)
        return path
    return check_file(path, workdir, max_bytes=MAX_HANDBACK)


def pack(rels: list[str], work: Path) -> dict[str, bytes]:
    """The bytes of the handed-back files and folders ``rels`` (relative to ``work``), by
    path relative to ``work``: regular files only (a link in a folder is refused), at most
    ``MAX_HANDBACK`` bytes together. ``Rejected`` says what was wrong."""
    from pipl.ci.sandbox import Rejected, check_file

    files: dict[str, bytes] = {}
    total = 0
    for rel in rels:
        top = _checked(work / rel, work)
        if top.is_dir():  # every entry but its folders: a link (to a folder too) is refused
            members = sorted(p for p in top.rglob("*") if p.is_symlink() or not p.is_dir())
        else:
            members = [top]
        for member in members:
            if member.is_symlink():
                raise Rejected(
                    f"{member.relative_to(work)} is a link: a worker sends regular files only"
                )
            data = check_file(member, work, max_bytes=MAX_HANDBACK).read_bytes()
            total += len(data)
            if total > MAX_HANDBACK:
                raise Rejected(f"the build handed back more than {MAX_HANDBACK} bytes: refused")
            files[member.relative_to(work).as_posix()] = data
    return files


def has_worker_part(handler: object) -> bool:
    """Whether a job of ``handler`` sends its build part to a worker: the handler has
    ``build`` and ``deliver``."""
    return callable(getattr(handler, "build", None)) and callable(getattr(handler, "deliver", None))


# -- on a Dask worker ------------------------------------------------------------------
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


# -- in the runner ---------------------------------------------------------------------
class DaskDispatch:
    """The runner's one client of the Dask scheduler (thread-safe: every job thread
    submits through it)."""

    def __init__(self, scheduler: str, *, connect_timeout: float = 10.0) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise CiError(
                '[ci] executor = "dask" needs dask distributed: pip install "pipl[dask]"'
            ) from None
        try:
            self.client = Client(scheduler, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise CiError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}): start it "
                "(dask scheduler) or fix [ci] scheduler in pipl.toml"
            ) from None
        self.plugin_error = self._register_plugin()

    def _register_plugin(self) -> str:
        """Every worker (and each that joins later) starts its prefork process for CI jobs
        now. A worker without this pipl (one for pipeline segments, with pipl-pipe only)
        refuses it: that breaks nothing, each worker then starts it with its first job.
        What went wrong, or an empty string."""
        from pipl.ci.dask_plugin import PreforkPlugin

        try:
            self.client.register_plugin(PreforkPlugin(), name=PreforkPlugin.name)
        except Exception as exc:  # raised by a worker, relayed by the scheduler
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return f"a Dask worker could not load pipl's CI worker plugin ({first})"
        return ""

    def submit(self, spec: JobSpec, timeout: float, resources: dict[str, float]) -> Any:
        """Send the job's build part to a worker with ``resources``; a Dask future."""
        key = f"pipl-ci-{spec.handler}-{spec.job_id}-{spec.attempt}-{uuid.uuid4().hex[:8]}"
        return self.client.submit(
            build_on_worker,
            dataclasses.asdict(spec),
            timeout,
            key=key,
            pure=False,
            resources=resources or None,
        )

    def close(self) -> None:
        self.client.close()


def store_answer(answer: dict[str, Any], folder: Path, workdir: Path) -> None:
    """Write the files a worker sent back under ``workdir/handback/`` (each path checked:
    relative, plain names, nothing outside) and, last, the job's ``handback.json``
    pointing at what the build handed back there."""
    from pipl.fsutil import atomic_write

    handback = answer.get("handback") or {}
    files: dict[str, bytes] = answer.get("files") or {}
    if sum(len(data) for data in files.values()) > MAX_HANDBACK:
        raise CiError(f"the worker sent back more than {MAX_HANDBACK} bytes: refused")
    target = workdir / HANDBACK_DIR
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for rel, data in files.items():
        path = target / _safe_rel(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    tops = [_safe_rel(str(rel)) for rel in handback.get("files") or []]
    for rel in tops:
        if not (target / rel).exists():  # an empty folder sends no file
            (target / rel).mkdir(parents=True)
    record = {
        "files": [f"{HANDBACK_DIR}/{rel}" for rel in tops],
        "data": handback.get("data") or {},
        "summary": str(handback.get("summary") or ""),
    }
    atomic_write(folder / HANDBACK, json.dumps(record))


def _safe_rel(rel: str) -> str:
    """``rel`` when it is a relative path of plain names (no ``..``, no absolute path,
    at most ``MAX_DEPTH`` deep); a one-line ``CiError`` otherwise."""
    parts = rel.split("/")
    if len(parts) > MAX_DEPTH or not all(_SAFE_NAME.fullmatch(p) for p in parts):
        raise CiError(f"the worker sent back a file named {rel!r}: refused")
    return rel
