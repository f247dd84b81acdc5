"""Running batches of segment instances, in-process or in a long-lived worker process.

The engine sends a ``SegmentJob`` (the segment's code, hooks, parameters and folders) and
batches of ``Task`` (one per instance); ``run_batch`` runs them one after the other and
returns one ``Result`` each. Every instance leaves, in ``<root>/data/<instance>/``, its
files and ``instance.log`` (what it logged or printed, and the traceback if it raised;
no file when there was nothing). Its record (status, input, outputs, timings) is appended
to a journal, ``<root>/journal/<batch>.pkl``, one file per batch: what resuming a killed
run and rebuilding the tracking database read, without one more file per instance.

``python -m pipl_pipe.segment.worker READ_FD WRITE_FD [LIFE_FD]`` serves batches over two
inherited pipe descriptors until the engine closes them: one process per worker, never
one per instance, and a channel that segment code (which may print) cannot write to.
``LIFE_FD`` is the read end of a pipe only the engine writes to: when it ends (the engine
exited, was killed, or stops this worker) the worker kills its process group, itself and
whatever its instances started, at once instead of finishing its batch for nobody.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import pickle
import shutil
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipl_pipe.segment import state
from pipl_pipe.segment.env import UNSET, Environment

LOG = "instance.log"
JOURNAL = "journal"
# what an instance stopped for running too long fails with (names ``retry_on`` can list)
TIMEOUT_TYPES = ("InstanceTimeout", "TimeoutError")


class InstanceTimeout(Exception):  # the name users list in retry_on
    """Raised in an instance that ran past its segment's timeout (in-process runs)."""


@dataclass(frozen=True)
class SegmentJob:
    """Everything an instance needs that is the same for all instances of a segment."""

    name: str
    key: str
    root: str  # the segment's folder: <...>/<name>_<key>
    code: str  # a segment script's source ("" for a segment packl)
    filename: str  # where the code came from (for tracebacks)
    entry: str = ""  # "module:function" of a segment packl
    hooks: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (file, src)
    params: dict[str, Any] = field(default_factory=dict)
    segment_roots: dict[str, str] = field(default_factory=dict)  # upstream name -> folder
    grouped: bool = False
    attempt: int = 1  # 2 and more: a retry (the earlier attempts' log is kept on top)
    timeout: float | None = None  # seconds per instance (the engine stops it past that)


@dataclass(frozen=True)
class Task:
    """One instance: its folder name, its input and the parent instance folders (and,
    under ``group_by``, its class value)."""

    name: str
    input: Any
    parent_dirs: dict[str, list[str]]
    group: Any = None


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    output: list[Any]
    started: float
    seconds: float
    error: str = ""
    # the exception's class names, most derived first (what ``retry_on`` is matched with)
    error_types: tuple[str, ...] = ()


def exception_names(exc: BaseException) -> tuple[str, ...]:
    """The names of ``exc``'s classes, most derived first: ``ConnectionResetError``,
    ``ConnectionError``, ``OSError``...; a class outside builtins also by its dotted name."""
    names: list[str] = []
    for cls in type(exc).__mro__:
        if cls in (object, BaseException):
            continue
        names.append(cls.__name__)
        if cls.__module__ != "builtins":
            names.append(f"{cls.__module__}.{cls.__qualname__}")
    return tuple(names)


_compiled: dict[str, Callable[[Environment], Any]] = {}


def _runner(job: SegmentJob) -> Callable[[Environment], Any]:
    """The segment's code, compiled or imported once per process."""
    cached = _compiled.get(job.key)
    if cached is not None:
        return cached
    if job.entry:
        module, _, attr = job.entry.partition(":")
        func = importlib.import_module(module)
        for part in attr.split("."):
            func = getattr(func, part)

        def call(env: Environment) -> Any:
            return func(env)  # type: ignore[operator]  # the entry point is a callable

    else:
        code = compile(job.code, job.filename, "exec")

        def call(env: Environment) -> Any:
            space = env.globals()
            exec(code, space)  # noqa: S102  # the pipeline's own segment script
            return space.get("seg_output")

    _compiled[job.key] = call
    return call


class _Log:
    """One logger per segment; its handler writes into the current instance's buffer."""

    def __init__(self, segment: str) -> None:
        self.buffer = io.StringIO()
        self.logger = logging.getLogger(f"pipl_pipe.segment.{segment}")
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        for old in list(self.logger.handlers):
            self.logger.removeHandler(old)
        self.handler = logging.StreamHandler(self.buffer)
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        self.logger.addHandler(self.handler)

    def reset(self) -> io.StringIO:
        self.buffer = io.StringIO()
        self.handler.setStream(self.buffer)
        return self.buffer


def _fresh_dir(path: str) -> None:
    try:
        os.mkdir(path)
    except FileExistsError:  # left by a failed or killed run: start clean
        shutil.rmtree(path)
        os.mkdir(path)


@dataclass
class BatchOptions:
    """How a batch runs besides its instances: ``ended`` is called with each result as
    its instance ends; ``stop`` says to run no further instance; ``alarm`` stops an
    instance past ``job.timeout`` with ``InstanceTimeout`` (a signal: the main thread only)."""

    ended: Callable[[Result], None] | None = None
    stop: Callable[[], bool] | None = None
    alarm: bool = False


def run_batch(
    job: SegmentJob, tasks: list[Task], options: BatchOptions | None = None
) -> list[Result]:
    """Run the instances one after the other; a raising instance is recorded, not raised."""
    log = _Log(job.name)
    data = os.path.join(job.root, "data")
    os.makedirs(data, exist_ok=True)
    journal = Journal(job.root)
    try:
        return _run_tasks(job, tasks, data, log, journal, options or BatchOptions())
    finally:
        journal.close()


def _earlier_log(folder: str, attempt: int) -> str:
    """The log the earlier attempts of a retried instance left, headed for the new one."""
    try:
        with open(os.path.join(folder, LOG)) as fh:
            earlier = fh.read()
    except OSError:
        earlier = ""
    return f"{earlier}--- attempt {attempt} ---\n"


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise ``InstanceTimeout`` in the code running when ``seconds`` have passed."""

    def ring(signum: int, frame: Any) -> None:
        raise InstanceTimeout(f"ran over its {seconds:g}s timeout")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _run_tasks(
    job: SegmentJob,
    tasks: list[Task],
    data: str,
    log: _Log,
    journal: Journal,
    options: BatchOptions,
) -> list[Result]:
    results = []
    for task in tasks:
        if options.stop is not None and options.stop():
            break
        folder = os.path.join(data, task.name)
        earlier = _earlier_log(folder, job.attempt) if job.attempt > 1 else ""
        _fresh_dir(folder)
        buffer = log.reset()
        buffer.write(earlier)
        env = Environment(
            segment=job.name,
            instance=task.name,
            data_dir=folder,
            seg_input=task.input,
            parent_dirs=task.parent_dirs,
            segment_roots=job.segment_roots,
            hooks=job.hooks,
            params=job.params,
            logger=log.logger,
            grouped=job.grouped,
            group=getattr(task, "group", None),
        )
        started = time.time()
        clock = time.perf_counter()
        error = ""
        types: tuple[str, ...] = ()
        output: list[Any] = []
        token = state.enter(env)
        try:
            call = _runner(job)
            with contextlib.redirect_stdout(buffer):
                if options.alarm and job.timeout:
                    with _alarm(job.timeout):
                        returned = call(env)
                else:
                    returned = call(env)
            if returned is not None:
                output = list(returned) if isinstance(returned, list) else [returned]
            elif env.output is not UNSET:
                output = env.output
            else:
                output = [task.input]
        except Exception as exc:
            buffer.write(traceback.format_exc())
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            types = TIMEOUT_TYPES if isinstance(exc, InstanceTimeout) else exception_names(exc)
        finally:
            state.leave(token)
        seconds = time.perf_counter() - clock
        result = Result(task.name, not error, output, started, seconds, error, types)
        text = buffer.getvalue()
        if text:  # an instance that said nothing has no log file (an empty log)
            with open(os.path.join(folder, LOG), "w") as fh:
                fh.write(text)
        result = journal.append(task, result)
        results.append(result)
        if options.ended is not None:
            options.ended(result)
    return results


class Journal:
    """Instance records of one batch, appended to one file as pickles. Each record is
    flushed as the instance ends (no fsync): a record cut short by a kill does not unpickle,
    so that instance simply runs again."""

    def __init__(self, root: str) -> None:
        folder = os.path.join(root, JOURNAL)
        os.makedirs(folder, exist_ok=True)
        name = f"{time.time_ns()}-{os.getpid()}-{threading.get_ident()}.pkl"
        self.fh = open(os.path.join(folder, name), "ab")  # noqa: SIM115  # closed by close()

    def append(self, task: Task, result: Result) -> Result:
        record = {
            "name": task.name,
            "input": task.input,
            "ok": result.ok,
            "output": result.output,
            "started": result.started,
            "seconds": result.seconds,
            "error": result.error,
            "parents": task.parent_dirs,  # which parent instances it used
        }
        try:
            payload = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an output that does not pickle fails the instance
            error = f"outputs do not pickle: {exc}"
            record.update(ok=False, output=[], error=error)
            result = Result(result.name, False, [], result.started, result.seconds, error)
            payload = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        self.fh.write(payload)
        self.fh.flush()
        return result

    def close(self) -> None:
        self.fh.close()


def read_journal(root: str | Path) -> dict[str, dict[str, Any]]:
    """The latest record of every instance of a segment folder, by instance name."""
    found: dict[str, dict[str, Any]] = {}
    folder = os.path.join(root, JOURNAL)
    try:
        names = sorted(os.listdir(folder))  # by time of the batch's start
    except FileNotFoundError:
        return found
    for name in names:
        try:
            fh = open(os.path.join(folder, name), "rb")  # noqa: SIM115  # closed below
        except OSError:
            continue
        with fh:
            while True:
                try:
                    record = pickle.load(fh)  # noqa: S301  # written by Journal.append
                except EOFError:
                    break
                except Exception:  # a record cut short by a kill: the rest is lost too
                    break
                previous = found.get(record["name"])
                if previous is None or previous["started"] <= record["started"]:
                    found[record["name"]] = record
    return found


def serve(read_fd: int, write_fd: int, life_fd: int | None = None) -> None:
    """Answer ``(job, tasks)`` requests with result lists until the engine hangs up.
    For a job with a timeout, ``("begin", None)`` says the batch starts and each result
    is sent as its instance ends (``("one", result)``), so that the engine knows which
    instance runs and since when."""
    from multiprocessing.connection import Connection

    if life_fd is not None:
        threading.Thread(target=_die_with_engine, args=(life_fd,), daemon=True).start()
    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)

    def one(result: Result) -> None:
        outbox.send(("one", result))

    while True:
        try:
            job, tasks = inbox.recv()
        except EOFError:
            return
        options = BatchOptions(ended=one if job.timeout else None)
        if job.timeout:
            outbox.send(("begin", None))  # the first instance's clock starts now
        try:
            results = run_batch(job, tasks, options)
            outbox.send(("ok", [] if job.timeout else results))
        except Exception:  # the segment's code could not even load: report, keep serving
            outbox.send(("error", traceback.format_exc()))


def _die_with_engine(life_fd: int) -> None:
    """Wait for the end of the life pipe, then kill this worker's process group (its
    instances' children too): the engine is gone or wants this worker stopped."""
    while True:
        try:
            if not os.read(life_fd, 64):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    try:
        if os.getpgid(0) == os.getpid():  # a group of its own: take its children along
            os.killpg(0, signal.SIGKILL)
    finally:
        os._exit(1)


if __name__ == "__main__":
    # run the imported module, so results pickle as pipl_pipe.segment.worker classes
    from pipl_pipe.segment import worker

    life = int(sys.argv[3]) if len(sys.argv) > 3 else None
    worker.serve(int(sys.argv[1]), int(sys.argv[2]), life)
