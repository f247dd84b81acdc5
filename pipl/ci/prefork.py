"""Start CI jobs by forking a process that has pipl imported already.

A job in a new interpreter (``python -m pipl.ci.job``) spends most of a light job's time
importing pipl, httpx and the handlers. The runner keeps one *prefork* process instead:
started once with ``python -m pipl.ci.prefork REQUEST_FD REPLY_FD``, single-threaded, it
imports what jobs use and then forks one child per job. The child is a process of its own,
as before: a new session (the runner stops it and everything it started by its process
group), its log file as stdout and stderr, the job's environment (its token the only
secret) and folder, ``pipl.ci.job.run(spec)`` and its exit code. Handlers still run what
a release brings (tox, uv, processing) in fresh environments of their own.

Tools pipl runs as ``python -m MODULE`` in a job (tox for ``qa``) are imported by the
prefork process too. Before the job's token reaches it, each child forks a *helper*, in
the job's session, that runs such a tool in a fork of its own (``PreloadedRunner``), so the
tool starts without importing itself and runs in a process that never held the token (as
``python -m`` would). The token therefore never passes through the prefork process: the
runner writes it to a 0600 file in the job's folder, which the child reads and removes.

The runner and the prefork process talk over two pipes of their own (never stdout, which
is the log): one JSON line per request ``{"id", "spec", "log", "cwd", "env"}``; answers
``{"id", "pid"}`` (or ``{"id", "error"}``) once the child runs in its session, and
``{"pid", "code"}`` when it exits. The prefork process ends when the runner closes its
pipe (or dies); jobs it started keep their sessions, like jobs started by ``Popen``.

Why not the standard library's forkserver (``multiprocessing``, ``set_forkserver_preload``
with the same modules): ``bench/bench_workers.py`` runs both in turn on the same jobs. From
the request to the job's exit code known, p50 31.8 ms here and 47.4 ms there (p90 47.8
and 71.4 ms; 60 jobs each, 2 cores under load; a new interpreter: 273 ms); in two
earlier runs the forkserver took 1.4 and 1.9 times as long. The forkserver also gives the
pid as soon as it forked, before the child has its own session (the runner could not yet
stop it by its group), where this process answers once the child runs in its session.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipl.ci.handlers import CiError
from pipl.errors import CommandError
from pipl.runner import Completed, Runner, failure_message

START_TIMEOUT = 30.0  # the prefork process imports pipl before it answers
ANSWER_TIMEOUT = 10.0  # a fork answers in milliseconds
REAP_EVERY = 0.01  # seconds between two looks for children that ended

# modules a job imports: imported once in the prefork process, shared by every child
PRELOAD = (
    "pipl.ci.job",
    "pipl.ci.handlers",
    "pipl.ci.builtin.files",
    "pipl.ci.builtin.qa",
    "pipl.ci.builtin.wheel",
    "pipl.ci.builtin.promote",
    "pipl.ci.builtin.process",
    "pipl.ci.builtin.pipeline",
    "pipl.ci.builtin.webhook",
    "pipl.ci.intake",
    "pipl.index.client",
    "pipl.index.promote",
    "pipl.index.distfile",
    "pipl.project.project",
    "pipl.project.secrets",
    "pipl.product.build",
    "pipl.product.process",
    "pipl.assets.project_store",
    "pipl.workspace.inside",
    "pipl.workspace.shell",
    "pipl.uv",
    "packaging.requirements",
    "tomlkit",
    # the tools of PRELOADED_MAIN and their plugins
    "tox.run",
    "tox.session.cmd.run.sequential",
    "tox.tox_env.python.virtual_env.runner",
    "tox_uv.plugin",
)
PRELOADED_MAIN = ("tox",)  # `python -m` these run in a fork of the job's helper
TOKEN_FILE = "token"  # noqa: S105 - a file name, not a token


def import_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables that change what Python imports: a job whose environment differs
    here from the prefork process's starts in a new interpreter instead."""
    return {k: v for k, v in env.items() if k.startswith("PYTHON")}


class ForkedJob:
    """A job started by the prefork process: ``pid``, ``wait(timeout)`` and
    ``returncode`` as ``subprocess.Popen`` has them."""

    def __init__(self, server: Prefork, pid: int, token: Path) -> None:
        self.server = server
        self.pid = pid
        self.token = token
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        code = self.server.exit_code(self.pid, timeout)
        if code is None:
            raise subprocess.TimeoutExpired(f"job {self.pid}", timeout or 0.0)
        self.token.unlink(missing_ok=True)  # the job read it, unless it died before
        self.returncode = code
        return code


class Prefork:
    """The runner's side: start the prefork process, ask it for jobs, learn their ends."""

    def __init__(self, env: Mapping[str, str], cwd: Path, runner: Runner | None = None) -> None:
        self.env = dict(env)
        req_r, self._req_w = os.pipe()
        self._rep_r, rep_w = os.pipe()
        try:
            self.proc = (runner or Runner()).spawn(
                [sys.executable, "-m", "pipl.ci.prefork", str(req_r), str(rep_w)],
                env=self.env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                pass_fds=(req_r, rep_w),
            )
        except BaseException:
            for fd in (self._req_w, self._rep_r):
                os.close(fd)
            raise
        finally:
            os.close(req_r)
            os.close(rep_w)
        self._requests = os.fdopen(self._req_w, "wb")
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._answers: dict[int, dict[str, Any]] = {}
        self._exits: dict[int, int] = {}
        self._children: set[int] = set()
        self._next = 0
        self.dead = False
        self._reader = threading.Thread(target=self._read, name="ci-prefork", daemon=True)
        self._reader.start()
        with self._changed:  # the process says it is ready once it imported everything
            if not self._changed.wait_for(lambda: 0 in self._answers or self.dead, START_TIMEOUT):
                self.close()
                raise CiError(f"the CI prefork process did not start in {START_TIMEOUT:.0f}s")
        if self.dead:
            raise CiError("the CI prefork process exited at start: see the runner's log")

    def compatible(self, env: Mapping[str, str]) -> bool:
        return not self.dead and import_env(env) == import_env(self.env)

    def start(self, spec: Path, log: Path, cwd: Path, env: Mapping[str, str]) -> ForkedJob:
        """Fork a child running ``pipl.ci.job`` on ``spec``; a ``CiError`` if that fails
        (the runner then starts the job in a new interpreter)."""
        from pipl.ci.job import TOKEN_ENV
        from pipl.fsutil import write_private

        env = dict(env)
        token = cwd / TOKEN_FILE
        write_private(token, env.pop(TOKEN_ENV, ""))
        with self._lock:
            self._next += 1
            request_id = self._next
            line = json.dumps(
                {
                    "id": request_id,
                    "spec": str(spec),
                    "log": str(log),
                    "cwd": str(cwd),
                    "env": env,
                }
            )
            try:
                self._requests.write(line.encode() + b"\n")
                self._requests.flush()
            except (OSError, ValueError) as exc:
                raise CiError(f"the CI prefork process is gone: {exc}") from None
        with self._changed:
            self._changed.wait_for(lambda: request_id in self._answers or self.dead, ANSWER_TIMEOUT)
            answer = self._answers.pop(request_id, None)
        if answer is None:
            raise CiError("the CI prefork process did not answer")
        if "pid" not in answer:
            raise CiError(f"the CI prefork process could not start the job: {answer.get('error')}")
        return ForkedJob(self, int(answer["pid"]), token)

    def exit_code(self, pid: int, timeout: float | None) -> int | None:
        with self._changed:
            self._changed.wait_for(lambda: pid in self._exits, timeout)
            return self._exits.pop(pid, None)

    def _read(self) -> None:
        with os.fdopen(self._rep_r, "rb") as replies:
            for raw in replies:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                with self._changed:
                    if "code" in message:
                        self._exits[int(message["pid"])] = int(message["code"])
                        self._children.discard(int(message["pid"]))
                    else:
                        if "pid" in message:
                            self._children.add(int(message["pid"]))
                        self._answers[int(message["id"])] = message
                    self._changed.notify_all()
        # the prefork process is gone: nobody reports its children's ends any more, so
        # stop them (their jobs end failed, with a line in their logs)
        with self._changed:
            self.dead = True
            for pid in self._children:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                self._exits[pid] = -signal.SIGKILL
            self._children.clear()
            self._changed.notify_all()

    def close(self) -> None:
        with self._lock, contextlib.suppress(OSError):
            self._requests.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)


# -- the prefork process --------------------------------------------------------------------
def _child(request: dict[str, Any], ready: int, keep_closed: list[int]) -> None:
    """In the forked child: become the job's process, run it, exit with its code."""
    code = 1
    helper: Helper | None = None
    try:
        os.setsid()
        for fd in keep_closed:
            os.close(fd)
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
        os.close(ready)  # the runner may now stop this session by its group
        helper = Helper()  # forked before the token is read: it never holds it
        from pipl.ci.job import TOKEN_ENV, run

        token = Path(TOKEN_FILE)
        os.environ[TOKEN_ENV] = token.read_text()
        token.unlink()
        code = run(Path(request["spec"]), runner=PreloadedRunner(helper))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        if helper is not None:
            with contextlib.suppress(Exception):
                helper.close()
        os._exit(code)


class Helper:
    """In a job's process: a child forked before the token arrived, which runs each
    ``python -m MODULE`` asked of it (MODULE preloaded) in a fork of its own."""

    def __init__(self) -> None:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(req_w)
            os.close(rep_r)
            _helper(req_r, rep_w)
        os.close(req_r)
        os.close(rep_w)
        self.pid = pid
        self._requests = os.fdopen(req_w, "wb")
        self._replies = os.fdopen(rep_r, "rb")

    def run_module(
        self, module: str, args: list[str], cwd: Path, env: Mapping[str, str], out: Path
    ) -> int | None:
        """``python -m module args`` with its output in ``out``; its exit code (None: the
        helper is gone)."""
        request = {"module": module, "args": args, "cwd": str(cwd), "env": dict(env)}
        try:
            self._requests.write(json.dumps({**request, "out": str(out)}).encode() + b"\n")
            self._requests.flush()
            line = self._replies.readline()
        except OSError:
            return None
        return int(json.loads(line)["code"]) if line else None

    def close(self) -> None:
        """End the helper (it leaves at the end of its requests) and reap it."""
        with contextlib.suppress(OSError):
            self._requests.close()
        deadline = time.monotonic() + 1.0
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                if time.monotonic() > deadline:
                    os.kill(self.pid, signal.SIGKILL)
                    os.waitpid(self.pid, 0)
                    break
                time.sleep(0.005)


def _helper(requests: int, replies: int) -> None:
    try:
        with os.fdopen(requests, "rb") as lines:
            for line in lines:
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _run_module(request)
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
                os.write(replies, json.dumps({"code": code}).encode() + b"\n")
    finally:
        os._exit(0)


def _run_module(request: dict[str, Any]) -> None:
    """In a fork of the helper: what ``python -m MODULE ARGS`` does, MODULE imported."""
    import runpy

    code: int = 1
    try:
        out = os.open(request["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        # streams of their own on the new descriptors, as a new interpreter has
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115 - flushed at exit
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115 - flushed at exit
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [request["module"], *request["args"]]
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


class PreloadedRunner(Runner):
    """A job's ``Runner``: ``python -m tox ...`` (a module of ``PRELOADED_MAIN``) runs in
    the helper, with its output captured; everything else as ``Runner`` runs it."""

    def __init__(self, helper: Helper) -> None:
        self.helper = helper

    def run(self, argv: Any, **kwargs: Any) -> Completed:
        args = [str(a) for a in argv]
        plain = set(kwargs) <= {"cwd", "env", "check", "secrets"}
        if (
            len(args) >= 3
            and args[0] == sys.executable
            and args[1] == "-m"
            and args[2] in PRELOADED_MAIN
            and plain
            and kwargs.get("env") is not None
        ):
            start = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix="pipl-run-") as tmp:
                out = Path(tmp) / "output"
                cwd = Path(kwargs.get("cwd") or os.getcwd())
                code = self.helper.run_module(args[2], args[3:], cwd, kwargs["env"], out)
                output = out.read_text(errors="replace") if out.exists() else ""
            if code is not None:
                done = Completed(tuple(args), code, output, "", time.perf_counter() - start)
                if kwargs.get("check", True) and code != 0:
                    raise CommandError(failure_message(done, kwargs.get("secrets", ())))
                return done
        return super().run(argv, **kwargs)


def _fork(request: dict[str, Any], keep_closed: list[int]) -> int:
    ready_r, ready_w = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        _child(request, ready_w, keep_closed)
    os.close(ready_w)
    with os.fdopen(ready_r, "rb") as ready:
        ready.read()  # EOF once the child is in its session (or dead)
    return pid


def serve(requests: int, replies: int) -> None:
    """Answer the runner until it closes ``requests``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner stops this process
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            __import__(name)
    with contextlib.suppress(Exception):
        from pipl.ci.handlers import available
        from pipl.index.client import IndexClient, tls_context

        available()
        tls_context()
        # httpx imports its transport (httpcore, h11, anyio: ~40 ms) when the first client
        # is made: made here once, no job pays it (it connects to nothing)
        IndexClient("http://127.0.0.1").close()

    def reply(message: dict[str, Any]) -> None:
        os.write(replies, json.dumps(message).encode() + b"\n")

    reply({"id": 0, "ready": True})
    children: set[int] = set()
    # a pidfd per child (Linux): select wakes the moment one exits, no polling; a child
    # without one (an older kernel) is looked for every REAP_EVERY seconds
    pidfds: dict[int, int] = {}
    buffer = b""
    while True:
        polled = any(pid not in pidfds for pid in children)
        watched = [requests, *pidfds.values()]
        readable, _, _ = select.select(watched, [], [], REAP_EVERY if polled else None)
        if requests in readable:
            chunk = os.read(requests, 65536)
            if not chunk:
                return  # the runner is gone: the jobs keep their sessions
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                try:
                    pid = _fork(request, [requests, replies, *pidfds.values()])
                except OSError as exc:
                    reply({"id": request["id"], "error": f"{type(exc).__name__}: {exc}"})
                    continue
                children.add(pid)
                with contextlib.suppress(AttributeError, OSError):
                    pidfds[pid] = os.pidfd_open(pid)
                reply({"id": request["id"], "pid": pid})
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children.clear()
                break
            if pid == 0:
                break
            children.discard(pid)
            if pid in pidfds:
                os.close(pidfds.pop(pid))
            reply({"pid": pid, "code": os.waitstatus_to_exitcode(status)})


if __name__ == "__main__":
    # as in pipl.ci.job: httpx's command-line client is never used by a job
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None blocks the import
    serve(int(sys.argv[1]), int(sys.argv[2]))
