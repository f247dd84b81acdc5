"""How a job ended, as the runner records it: shared by the runner and its Dask side
(``pipl.ci.dask_jobs``), which both read a job process's exit code and ``result.json``."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipl.ci import db
from pipl.ci.job import EXIT_PASSED, EXIT_RETRY, EXIT_WAIT


@dataclass(frozen=True)
class Outcome:
    state: str  # passed | failed | retry | wait | killed
    message: str
    code: int = 0  # the job process's exit code (negative: the signal that killed it)


def outcome_of(code: int, result: dict[str, Any] | None, what: str) -> Outcome:
    """The outcome a job process's exit code and ``result.json`` say."""
    if not result:
        return Outcome(db.FAILED, f"{what} exited {code} without a result: see its log")
    state, message = str(result.get("state")), str(result.get("message"))
    if code == EXIT_PASSED and state == db.PASSED:
        return Outcome(db.PASSED, message)
    if code == EXIT_WAIT or state == "wait":
        return Outcome("wait", message)
    if code == EXIT_RETRY or state == "retry":
        return Outcome("retry", message)
    return Outcome(db.FAILED, message)


def note(log: Path, message: str) -> None:
    """A line of the runner's in the job's log, after what the job wrote."""
    with contextlib.suppress(OSError), log.open("a") as out:
        out.write(f"== pipl ci runner: {message}\n")
