"""Whether a job that did not finish runs again, and when.

Two kinds of attempts end without the job's own verdict:

- an infrastructure error (the index server does not answer, a transport error, an HTTP
  5xx): the job runs again after a pause that doubles from ``FIRST_DELAY`` up to
  ``MAX_DELAY``, as long as the budget (the job's timeout) has not passed since the first
  such error, and at least ``[ci] retries`` times; a devpi-server that takes half a minute
  to restart strands no job;
- a job process killed by a signal (``kill -9``, the kernel's out-of-memory killer): run
  again once, not more (a job that is killed every time would be killed forever).

What a job went through lives in ``retry.json`` in the job's folder, so a new runner (after
one was killed) goes on where the last one stopped; a job's first attempt starts afresh.
"""

from __future__ import annotations

import json
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

FIRST_DELAY = 1.0
MAX_DELAY = 15.0
KILLED_DELAY = 1.0
STATE_FILE = "retry.json"


@dataclass
class RetryState:
    """A job's retries so far (since its first attempt)."""

    since: float = 0.0  # when its first infrastructure error happened (0: none yet)
    infra: int = 0  # infrastructure retries
    killed: str = ""  # the signal kill that was retried, e.g. "killed by signal 9 (SIGKILL)"

    @classmethod
    def load(cls, folder: Path, attempt: int) -> RetryState:
        """The job's state at attempt ``attempt`` (1: a fresh start, nothing retried)."""
        if attempt <= 1:
            return cls()
        try:
            data = json.loads((folder / STATE_FILE).read_text())
            return cls(float(data["since"]), int(data["infra"]), str(data["killed"]))
        except (OSError, ValueError, KeyError, TypeError):
            return cls()

    def save(self, folder: Path) -> None:
        from pipl.fsutil import atomic_write

        atomic_write(folder / STATE_FILE, json.dumps(asdict(self)))

    def clear(self, folder: Path) -> None:
        (folder / STATE_FILE).unlink(missing_ok=True)


@dataclass(frozen=True)
class Decision:
    again: bool  # run the job again after ``delay`` seconds; else it failed
    delay: float
    message: str


def after_infra_error(
    state: RetryState, message: str, *, attempts: int, minimum: int, budget: float
) -> Decision:
    """The next step after an infrastructure error (``state`` is updated)."""
    now = time.time()
    since = state.since or now
    delay = min(MAX_DELAY, FIRST_DELAY * 2.0**state.infra)
    spent = now - since
    if state.infra < minimum or spent + delay <= budget:
        state.since, state.infra = since, state.infra + 1
        return Decision(True, delay, f"retrying in {delay:.0f}s: {message}")
    return Decision(False, 0.0, f"gave up after {attempts} attempts in {spent:.0f}s: {message}")


def signal_name(code: int) -> str:
    """``killed by signal 9 (SIGKILL)`` for a process that ended with ``code`` -9."""
    number = -code
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"killed by signal {number}"
    return f"killed by signal {number} ({name})"


def after_kill(state: RetryState, code: int) -> Decision:
    """The next step after the job's process was killed by signal ``-code``."""
    what = signal_name(code)
    if not state.killed:
        state.killed = what
        return Decision(True, KILLED_DELAY, f"{what}: retried once")
    return Decision(False, 0.0, f"{what} again: not retried a second time")
