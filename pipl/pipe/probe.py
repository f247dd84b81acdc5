"""Asking another environment's python what it holds (``pipl_pipe.segment.probe``).

A segment's own environment, or the one a pipeline is installed in, has packages this
interpreter cannot import. Its python answers through a result file, so what its packages
print when imported never mixes with the answer; a probe that fails is one
``PipelineError`` line.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from pipl_pipe.answer import RESULT_OPTION

from pipl.errors import PipelineError
from pipl.runner import Runner

MODULE = "pipl_pipe.segment.probe"
LIST_TIMEOUT = 120.0  # seconds to list an environment's distributions


def ask(python: str, args: list[str], what: str, timeout: float | None = None) -> Any:
    """What ``python -m pipl_pipe.segment.probe ARGS`` answers; a failure raises
    ``PipelineError`` starting with ``what``."""
    with tempfile.TemporaryDirectory(prefix="pipl-probe-") as tmp:
        result = Path(tmp) / "result.json"
        done = Runner().run(
            [python, "-m", MODULE, *args, RESULT_OPTION, result], check=False, timeout=timeout
        )
        try:
            answer = json.loads(result.read_text())
        except (OSError, ValueError):
            answer = None
    if not isinstance(answer, dict) or "ok" not in answer:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise PipelineError(f"{what}: {python} -m {MODULE} exited {done.returncode}: {last}")
    if not answer["ok"]:
        raise PipelineError(f"{what}: {answer.get('error')}")
    return answer.get("data")


def entry_point(python: str, candidates: list[str]) -> dict[str, Any] | None:
    """The first ``pipl_pipe.segment`` entry point among ``candidates`` in the
    environment of ``python``, with its module's source (``probe.entry_point``)."""
    found: dict[str, Any] | None = ask(
        python,
        ["entry-point", *candidates],
        f"cannot read the segment entry points ({', '.join(candidates)}) of {python}",
    )
    return found


def installed(python: str) -> list[dict[str, str]]:
    """The distributions of ``python``'s environment (``probe.installed``)."""
    dists: list[dict[str, str]] = ask(
        python,
        ["installed"],
        "cannot list the packls installed for the pipeline",
        LIST_TIMEOUT,
    )
    return dists
