"""How a segment's instances are run besides their code: retries and a timeout.

Per segment, in the pipeline's ``SEGMENTS`` table (none of it enters the key)::

    SEGMENTS = {"fetch": {"retries": 2, "retry_on": ["OSError"], "timeout": 60}}

- ``retries``: how many more attempts a failing instance gets (default 0);
- ``retry_on``: the exception names that count as a passing failure, matched against the
  exception's class and its bases (``OSError`` covers ``ConnectionError`` and
  ``TimeoutError``); an instance failing with anything else is not retried. Default
  ``["OSError"]``. An instance stopped by its timeout fails with ``InstanceTimeout``
  (list ``InstanceTimeout`` or ``TimeoutError`` to retry it); a worker process that died
  under an instance fails it with ``WorkerDied``;
- ``timeout``: seconds an instance may run (default: ``pipl pipe run --timeout``, else
  none); past it, the instance is stopped and fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipl_pipe.segment.worker import Result

from pipl.errors import PipelineError

DEFAULT_RETRY_ON = ("OSError",)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class Policy:
    retries: int = 0
    retry_on: tuple[str, ...] = DEFAULT_RETRY_ON
    timeout: float | None = None

    def transient(self, result: Result) -> bool:
        """Whether a failed instance failed for a reason listed in ``retry_on``."""
        types = getattr(result, "error_types", ())  # results of an older worker have none
        return any(name in self.retry_on for name in types)


def segment_policy(name: str, spec: dict[str, Any], default_timeout: float | None) -> Policy:
    """The policy of segment ``name`` from its ``SEGMENTS`` entry, checked."""
    retries = spec.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise PipelineError(
            f"segment {name}: 'retries' must be a whole number, 0 or more, not {retries!r} "
            "(in SEGMENTS)"
        )
    retry_on = spec.get("retry_on", DEFAULT_RETRY_ON)
    if isinstance(retry_on, str):
        retry_on = [retry_on]
    if not isinstance(retry_on, list | tuple) or not all(
        isinstance(n, str) and _NAME.match(n) for n in retry_on
    ):
        raise PipelineError(
            f"segment {name}: 'retry_on' must be a list of exception names like "
            f"['OSError', 'TimeoutError'], not {retry_on!r} (in SEGMENTS)"
        )
    timeout = spec.get("timeout", default_timeout)
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise PipelineError(
            f"segment {name}: 'timeout' must be a number of seconds above 0, not {timeout!r} "
            "(in SEGMENTS)"
        )
    return Policy(retries, tuple(retry_on), float(timeout) if timeout is not None else None)
