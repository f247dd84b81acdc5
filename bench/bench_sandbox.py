"""What the sandbox adds to a job: the same programs started plainly and in a job's
sandbox (bubblewrap with its limits), measured in the same run, p50 of ``N`` starts.

``true`` shows what bubblewrap and prlimit themselves cost; ``python -c pass`` and
``python -m tox --version`` are what the ``qa`` handler starts. A job runs one sandboxed
program (``wheel``, ``qa``) or two (``process`` of a pipeline).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import print_table
from pipl.ci.sandbox import Sandbox, SandboxRunner, unavailable_reason
from pipl.runner import Runner

N = 20


def _p50(runner: Runner, argv: list[str]) -> float:
    samples = []
    for _ in range(N):
        start = time.perf_counter()
        runner.run(argv)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    reason = unavailable_reason()
    if reason is not None:
        sys.exit(f"no sandbox here: {reason}")
    with tempfile.TemporaryDirectory(prefix="pipl-bench-sandbox-") as tmp:
        project = Path(tmp) / "project"
        work = project / ".pipl" / "ci" / "jobs" / "1" / "work"
        work.mkdir(parents=True)
        plain, boxed = Runner(), SandboxRunner(Sandbox(workdir=work, hidden=(project,)))
        rows = []
        for label, argv in (
            ("true", ["true"]),
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("python -m tox --version", [sys.executable, "-m", "tox", "--version"]),
        ):
            a, b = _p50(plain, argv), _p50(boxed, argv)
            rows.append(
                (
                    label,
                    f"{a * 1000:.1f} ms plain, {b * 1000:.1f} ms sandboxed, "
                    f"+{(b - a) * 1000:.1f} ms",
                )
            )
    print_table(f"a program started plainly and in a job's sandbox (p50 of {N})", rows)
