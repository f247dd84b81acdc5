"""Pipelines pages and API at scale: 100,000 instances in a pipeline's tracking database
(plus 50,000 under an older key of ``square``, to compare with, and which label used
which square, to find dependents).

One offline project (its server started by ``pipl proj start``), a small pipeline run
for real under ``.pipl/pipe-data/bench-pipe``, then 100,000 more instances recorded in
its tracking database with the engine's own ``TrackingDb.record`` (a tenth failed, some
tagged). Each page and API call is a WSGI call of the dashboard's ``WebApp`` in this
process (server-side time: no browser, no network), p50 and max over 20 calls; the
target is under 200 ms.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import BenchProject, print_table

INSTANCES = 100_000
CALLS = 20
TARGET = 0.200
OLD_KEY = "0123456789"


def _fill(prefix: Path) -> dict[str, str]:
    """100,000 instances spread over the segments ``square`` and ``label``; their keys."""
    from pipl_pipe.segment.worker import Result

    from pipl.pipe.db import input_text, open_db
    from pipl.pipe.recipe import load_recipe

    recipe = load_recipe(prefix)
    assert recipe is not None
    keys = {s.name: s.key for s in recipe.segments}
    now = time.time()
    with open_db(prefix) as db:
        for segment in ("square", "label"):
            key = keys[segment]
            for start in range(0, INSTANCES // 2, 5000):
                batch = [
                    Result(
                        f"{n}_{n:010x}",
                        n % 10 != 0,
                        [n * n],
                        now,
                        0.01,
                        "" if n % 10 else "ValueError: synthetic failure",
                    )
                    for n in range(start + 10, start + 5010)
                ]
                inputs = {r.name: input_text({"source": r.name}) for r in batch}
                # each label used the square of the same number (delete with dependents)
                used = {r.name: {"square": [f"x/{r.name}"]} for r in batch}
                db.record(key, batch, 1, inputs, used, {"square": keys["square"]})
                if segment == "square":  # the same instances under an older key
                    db.record(OLD_KEY, batch, 1, inputs)
            for n in range(10, 2010, 20):
                db.tag(key, f"{n}_{n:010x}", "keeper")
        square = recipe.segment("square")
        assert square is not None
        db.add_segment(OLD_KEY, "square", square.root, {"source": keys["source"]})
    return keys


def _time(app, path: str) -> tuple[list[float], int]:  # type: ignore[no-untyped-def]
    from webob import Request

    samples = []
    status = 0
    for _ in range(CALLS):
        start = time.perf_counter()
        response = Request.blank(path).get_response(app)
        samples.append(time.perf_counter() - start)
        status = response.status_int
    return samples, status


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from pipl.project.project import Project
    from pipl.web.app import WebApp
    from tests.pipe_helpers import project_demo

    with tempfile.TemporaryDirectory() as tmp, BenchProject(Path(tmp)) as bench:
        project = Project.load(bench.root)
        prefix = project_demo(project.state_dir, Path(tmp), "bench-pipe")
        start = time.perf_counter()
        _fill(prefix)
        filled = time.perf_counter() - start
        app = WebApp(project)
        square = "/pipelines/bench-pipe/instances/square"
        from pipl.pipe.browse import open_tracking

        with open_tracking(prefix) as db:
            name = db.conn.execute(
                "SELECT name FROM instances WHERE name LIKE '2\\_%' ESCAPE '\\' AND ok=1 "
                "AND input LIKE '%\"source\": 2%'"
            ).fetchone()[0]
        today = time.strftime("%Y-%m-%d")
        cases = [
            ("page /pipelines", "/pipelines"),
            ("page /pipelines/bench-pipe", "/pipelines/bench-pipe"),
            ("page ... page 1000 of square", "/pipelines/bench-pipe?segment=square&page=1000"),
            ("page ... failed, tag keeper", "/pipelines/bench-pipe?status=failed&tag=keeper"),
            ("page one instance", f"{square}/{name}"),
            ("API instances, offset 0", "/api/v1/pipelines/bench-pipe/instances?limit=50"),
            (
                "API instances, offset 75,000",
                "/api/v1/pipelines/bench-pipe/instances?offset=75000&limit=50",
            ),
            (
                "API instances, square failed",
                "/api/v1/pipelines/bench-pipe/instances?segment=square&status=failed&offset=2000",
            ),
            ("API status", "/api/v1/pipelines/bench-pipe/status"),
            ("page ... started today", f"/pipelines/bench-pipe?since={today}&until={today}"),
            ("page code of square", "/pipelines/bench-pipe/code/square"),
            ("page compare square's 2 keys", f"/pipelines/bench-pipe/compare/square?a={OLD_KEY}"),
            (
                "API dependents of a square",
                f"/api/v1{square}/{name}/dependents",
            ),
        ]
        rows = [("instances in the tracking db", f"{INSTANCES + 8:,} (filled in {filled:.1f} s)")]
        worst = worst_max = 0.0
        for label, path in cases:
            samples, status = _time(app, path)
            assert status == 200, (path, status)
            worst = max(worst, statistics.median(samples))
            worst_max = max(worst_max, max(samples))
            rows.append(
                (
                    label,
                    f"p50 {statistics.median(samples) * 1000:6.1f} ms   "
                    f"max {max(samples) * 1000:6.1f} ms",
                )
            )
        verdict = "met" if worst < TARGET else "NOT met"
        rows.append(("target < 200 ms", f"p50 {verdict}; slowest call {worst_max * 1000:.0f} ms"))
        print_table(f"web pipelines: {INSTANCES:,} instances, {CALLS} calls each", rows)


if __name__ == "__main__":
    main()
