"""The CI runner's supervisor: ``python -m pipl.ci.supervisor PROJECT_ROOT``.

``pipl proj start`` starts it detached, in a session of its own, with the runner's log as
its output. It runs the runner (``pipl ci run``) as its child and, when the runner dies
(kill -9, the kernel's out-of-memory killer, a crash), starts it again after a pause:
``FIRST_DELAY``, doubling while the runner keeps dying within ``STABLE`` seconds of its
start, ``MAX_DELAY`` at most. Each restart is a line in the runner's log and in
``supervisor.json``, which ``pipl proj status`` reads. A runner that exits 0 was stopped on
purpose (SIGTERM): the supervisor leaves too. SIGTERM to the supervisor (``pipl proj
stop``) stops the runner, then the supervisor. A runner already running when the
supervisor starts (``pipl ci run`` in a terminal) is watched through its lock and replaced
when it goes.

One supervisor per project: it holds ``.pipl/ci/supervisor.lock`` while it lives (the OS
drops the lock when it dies). It imports little, so it stays small beside the runner.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pipl.ci.outbox import ci_dir

FIRST_DELAY = 0.5
MAX_DELAY = 30.0
STABLE = 60.0  # a runner that lived this long before it died is restarted at once
WATCH = 0.1
LOCK_WAIT = 2.0  # seconds a starting supervisor waits for its lock
STOP_TIMEOUT = 20.0
RUNNER_LOCK = "runner.lock"  # the runner's lock (pipl.ci.runner.lock_path)


def lock_path(root: Path) -> Path:
    return ci_dir(root) / "supervisor.lock"


def state_path(root: Path) -> Path:
    return ci_dir(root) / "supervisor.json"


def held(path: Path) -> bool:
    """True while some process holds the ``flock`` on ``path`` (the lock filelock takes).
    Asked through a read-only file descriptor, so users of the project who may not write
    its files can still tell."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # no lock file: nothing ever ran (or it cannot be read: say nothing)
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the lock this took, if it took it
    return False


@dataclass
class SupervisorState:
    """What ``supervisor.json`` says: the supervisor and its runner's deaths."""

    pid: int
    started: float
    runner: int | None = None  # the pid of the runner it started last
    deaths: int = 0  # runner exits it did not ask for
    restarts: int = 0
    last: str = ""  # e.g. "runner restarted at 12:01:02 after it died (exit -9)"

    def save(self, root: Path) -> None:
        from pipl.fsutil import atomic_write

        atomic_write(state_path(root), json.dumps(asdict(self)))


def read_state(root: Path) -> SupervisorState | None:
    """The running supervisor's state; None when no supervisor runs."""
    if not held(lock_path(root)):
        return None
    try:
        data = json.loads(state_path(root).read_text())
        return SupervisorState(**data)
    except (OSError, ValueError, TypeError):
        return None


def _say(line: str) -> None:
    print(f"---- pipl: {line}", flush=True)


class Supervisor:
    """Runs the project's runner until ``stop`` is set, restarting it when it dies."""

    def __init__(self, root: Path, stop: threading.Event) -> None:
        self.root = root
        self.stop = stop
        self.state = SupervisorState(os.getpid(), time.time())
        self.argv = [sys.executable, "-m", "pipl.cli", "--project", str(root), "ci", "run"]

    def run(self) -> None:
        self.state.save(self.root)
        quick = 0  # deaths in a row within STABLE seconds of a start
        cause = ""  # why the last runner went: its exit code
        while not self.stop.is_set():
            if held(ci_dir(self.root) / RUNNER_LOCK):  # a runner it did not start
                self._watch()
                continue
            began = time.monotonic()
            code = self._child(cause)
            if self.stop.is_set():
                break
            if code == 0:
                _say("the CI runner stopped (exit 0): its supervisor leaves too")
                break
            quick = quick + 1 if time.monotonic() - began < STABLE else 1
            delay = min(MAX_DELAY, FIRST_DELAY * 2.0 ** (quick - 1))
            cause = f"exit {code}"
            self.state.deaths += 1
            self.state.save(self.root)
            _say(f"the CI runner died ({cause}): starting it again in {delay:.1f}s")
            self.stop.wait(delay)

    def _watch(self) -> None:
        """Wait while a runner this supervisor did not start holds the lock (or someone
        looks at the lock for an instant), then start its own."""
        began = time.monotonic()
        while held(ci_dir(self.root) / RUNNER_LOCK):
            if self.stop.wait(WATCH):
                return
        if time.monotonic() - began > LOCK_WAIT:
            _say("the CI runner this supervisor did not start is gone: starting one")

    def _child(self, cause: str) -> int:
        """Run the runner as a child until it exits (or ``stop``); its exit code."""
        from pipl.runner import Runner

        proc = Runner().spawn(self.argv)
        self.state.runner = proc.pid
        if cause:
            self.state.restarts += 1
            self.state.last = (
                f"runner restarted at {time.strftime('%H:%M:%S')} after it died ({cause})"
            )
            _say(self.state.last)
        self.state.save(self.root)
        while proc.poll() is None:
            if self.stop.wait(WATCH):
                _end(proc)
                break
        return int(proc.returncode)


def _end(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the runner (it stops its jobs and leaves), SIGKILL if it does not."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main(root: Path) -> int:
    from filelock import FileLock, Timeout

    ci_dir(root).mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path(root), timeout=LOCK_WAIT)
    try:
        lock.acquire()
    except Timeout:
        _say("a CI supervisor runs already for this project: this one leaves")
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        _say(f"CI supervisor started (pid {os.getpid()})")
        Supervisor(root, stop).run()
        _say("CI supervisor stopped")
    finally:
        lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
