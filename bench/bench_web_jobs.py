"""The CI jobs pages and API with 10,000 jobs: server-side render time.

One offline project with its server running (no CI runner: the jobs stay as written),
10,000 jobs written into its CI database over its three stages (mostly ended, some queued
and running, a 1 MiB log for one), then the dashboard's WSGI application called in this
process, as an anonymous visitor (every read asks devpi whether the visitor may read the
jobs' indexes) and as the owner: p50 and max of 20 calls of each page and of the API's
list operation. Target: under 200 ms.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import FAST_ARGON2, clean_env, free_port, pipl, print_table

N_JOBS = 10_000
RUNS = 20
TARGET = 0.200
HANDLERS = ("wheel", "qa", "promote", "process", "webhook")


def _fill(root: Path, owner: str) -> int:
    """Write the jobs; return the id of the one with a big log."""
    from pipl.ci import db, outbox
    from pipl.ci.runner import log_path
    from pipl.project.project import Project

    rng = random.Random(9)  # noqa: S311 - made-up job states, not secrets
    conn = db.open_db(root)
    now = time.time()
    conn.execute("BEGIN")
    for n in range(N_JOBS):
        stage = ("dev", "qa", "prod")[n % 3]
        name = f"packl-{n % 400:03d}"
        version = f"1.{n // 400}.0"
        event = outbox.Event(
            0, f"{owner}/{stage}", name, version, f"{name}-{version}.tar.gz", "0" * 64, 0, "b", 0
        )
        db.add_job(conn, handler=HANDLERS[n % 5], rank=n % 5, event=event, key="")
    conn.execute("COMMIT")
    # mostly ended, a few failed and cancelled; the newest queued or running
    rows = [
        (rng.choices(["passed", "failed", "cancelled"], [90, 8, 2])[0], now - 60, now - 30, i)
        for i in range(1, N_JOBS - 150)
    ]
    rows += [("queued", None, None, i) for i in range(N_JOBS - 150, N_JOBS - 4)]
    rows += [("running", now - 5, None, i) for i in range(N_JOBS - 4, N_JOBS + 1)]
    conn.execute("BEGIN")
    conn.executemany(
        "UPDATE jobs SET state = ?, started = ?, finished = ?, message = 'bench' WHERE id = ?",
        rows,
    )
    conn.execute("UPDATE jobs SET state = 'passed', finished = ? WHERE id = 5000", (now,))
    conn.execute("COMMIT")
    conn.close()
    log = log_path(Project.load(root), 5000)
    log.parent.mkdir(parents=True, exist_ok=True)
    line = "step of a long job, with some text to make it a realistic log line\n"
    log.write_text(line * (1024 * 1024 // len(line)))
    return 5000


def _timer(app: object, path: str, header: str | None) -> Callable[[], float]:
    from webob import Request

    def once() -> float:
        request = Request.blank(path)
        if header:
            request.headers["X-Devpi-Auth"] = header
        start = time.perf_counter()
        response = request.get_response(app)
        took = time.perf_counter() - start
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
        return took

    return once


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pipl-bench-web-jobs-") as tmp:
        root = Path(tmp) / "proj"
        env = clean_env(Path(tmp) / "home", PIPL_PROJECT=str(root))
        pipl("proj", "create", root, "--no-pypi", "--port", str(free_port()), *FAST_ARGON2, env=env)
        pipl("proj", "start", "--detach", "--no-ci", env=env)
        try:
            pipl("proj", "index", "create-default", env=env)
            _run(root)
        finally:
            pipl("proj", "stop", env=env, check=False)


def _run(root: Path) -> None:
    from pipl.api.service import Context
    from pipl.project.project import Project
    from pipl.web.app import WebApp

    project = Project.load(root)
    started = time.perf_counter()
    job_id = _fill(root, project.owner)
    filled = time.perf_counter() - started
    owner = Context.local(root)
    header = owner.caller.header
    owner.close()
    app = WebApp(project)
    paths = [
        "/jobs",
        "/jobs?state=failed",
        "/jobs?state=passed&handler=qa&before=6000",
        f"/jobs/{job_id}",
        "/api/v1/jobs?limit=50",
        "/api/v1/jobs?state=failed&packl=packl-007",
    ]
    rows = [("jobs written", f"{N_JOBS} in {filled:.2f} s")]
    worst = 0.0  # the slowest p50
    for who, auth in (("anonymous", None), ("owner", header)):
        for path in paths:
            once = _timer(app, path, auth)
            once()  # warm: templates compiled, devpi's answers cached by the connection
            samples = [once() for _ in range(RUNS)]
            p50, top = statistics.median(samples), max(samples)
            worst = max(worst, p50)
            rows.append(
                (f"{who:9} GET {path}", f"p50 {p50 * 1000:6.1f} ms  max {top * 1000:6.1f} ms")
            )
    verdict = "met" if worst < TARGET else "MISSED"
    rows.append(("target", f"p50 < {TARGET * 1000:.0f} ms: {verdict}"))
    print_table(f"CI jobs pages and API, {N_JOBS} jobs, {RUNS} renders each", rows)


if __name__ == "__main__":
    main()
