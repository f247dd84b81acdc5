"""The releases dashboard at scale: 1,000 releases on a real project.

One offline project, its server and runner started by ``pipl proj start`` (no CI
handlers, so the runner only sweeps: it keeps the releases catalog as in production).
1,000 releases (10 tiny wheels x 100 versions, uploaded with the index client) go to the
first stage, 100 of them also to the second; 3,000 finished CI jobs are recorded for them.
Once the runner's catalog is true at devpi's serial, the dashboard (``WebApp``, called
in-process through WSGI) renders:

- ``/stages`` (three stages side by side, 25 releases each, QA state of each),
- one release's page (files, QA, jobs, requirements, provenance graph through ``dot``),
- the API's list operation (``GET /api/v1/stages/dev/releases?limit=50``),

20 times each: p50 and max, target < 200 ms. Beside them, what reading the stage from
devpi directly costs (one request per project, as a page would have to without the
catalog), and the runner's full catalog sync.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import FAST_ARGON2, clean_env, free_port, pipl, print_table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

PROJECTS = int(os.environ.get("PIPL_BENCH_PACKLS", "10"))
VERSIONS = int(os.environ.get("PIPL_BENCH_VERSIONS", "100"))
PROMOTED = min(100, PROJECTS * VERSIONS // 10)
JOBS_PER_RELEASE = 3
RENDERS = 20
TARGET = 0.200


def _ms(samples: list[float]) -> str:
    return (
        f"p50 {statistics.median(samples) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms "
        f"(n={len(samples)}) {'OK' if statistics.median(samples) < TARGET else 'OVER TARGET'}"
    )


def _upload_all(project, index: str, wheels: list[Path]) -> None:  # type: ignore[no-untyped-def]
    from pipl.index.session import connect

    def work(chunk: list[Path]) -> None:
        with connect(project, "owner") as owner:
            for wheel in chunk:
                owner.upload(index, wheel)

    chunks = [wheels[i::4] for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, chunks))


def _record_jobs(project) -> None:  # type: ignore[no-untyped-def]
    """Finished jobs for every release on the first stage, as the runner leaves them."""
    from pipl.ci import db, outbox

    conn = db.open_db(project.root)
    dev = project.stage_index()
    now = time.time()
    conn.execute("BEGIN")
    for p in range(PROJECTS):
        for v in range(VERSIONS):
            name, version = f"bench-p{p}", f"1.{v}"
            for h, handler in enumerate(("qa", "wheel", "promote")[:JOBS_PER_RELEASE]):
                conn.execute(
                    "INSERT OR IGNORE INTO jobs (handler, rank, ix, project, version, key, "
                    "event_id, filename, sha256, state, created, started, finished) "
                    "VALUES (?, ?, ?, ?, ?, '', 0, ?, ?, ?, ?, ?, ?)",
                    (
                        handler,
                        10 * (h + 1),
                        dev,
                        name,
                        version,
                        f"bench_p{p}-{version}-py3-none-any.whl",
                        "0" * 64,
                        "failed" if (p + v) % 17 == 0 else "passed",
                        now,
                        now,
                        now + 1,
                    ),
                )
    conn.execute("COMMIT")
    conn.close()
    assert outbox  # the events table lives beside the jobs


def _wait_catalog(project, timeout: float = 120.0) -> float:  # type: ignore[no-untyped-def]
    from pipl.ci import db
    from pipl.index import catalog
    from pipl.index.client import IndexClient

    start = time.perf_counter()
    conn = db.open_db(project.root)
    have = serial = None
    with IndexClient(project.url) as client:
        while time.perf_counter() - start < timeout:
            serial = int(client.status()["serial"])
            have = catalog.synced_serial(conn, project.stage_indexes)
            if have is not None and have >= serial:
                conn.close()
                return time.perf_counter() - start
            time.sleep(0.2)
    conn.close()
    log = project.root / ".pipl" / "ci" / "runner.log"
    tail = log.read_text()[-2000:] if log.is_file() else "(no runner log)"
    raise SystemExit(
        f"the runner did not bring the releases catalog up to date in time (catalog at "
        f"{have}, server at {serial}):\n{tail}"
    )


def _render(app, path: str, headers: dict[str, str] | None = None) -> float:  # type: ignore[no-untyped-def]
    from webob import Request

    request = Request.blank(path, headers=headers or {})
    start = time.perf_counter()
    response = request.get_response(app)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status}: {response.text[:300]}")
    return elapsed


def main() -> None:
    from helpers import make_wheel

    from pipl.ci import db, intake
    from pipl.index import catalog
    from pipl.index.client import IndexClient
    from pipl.index.promote import promote
    from pipl.index.session import connect
    from pipl.project.project import Project
    from pipl.web.app import WebApp

    with tempfile.TemporaryDirectory(prefix="pipl-bench-webrel-") as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "proj"
        env = clean_env(tmp / "home", PIPL_PROJECT=str(root), UV_CACHE_DIR=str(tmp / "uv"))
        pipl("proj", "create", root, "--no-pypi", "--port", str(free_port()), *FAST_ARGON2, env=env)
        with (root / "pipl.toml").open("a") as toml:
            toml.write("\n[ci.handlers]\ndev = []\nqa = []\n\n[web]\nport = 0\n")
        pipl("proj", "start", "--detach", env=env)
        try:
            pipl("proj", "index", "create-default", env=env)
            project = Project.load(root)
            wheels = [
                make_wheel(
                    tmp / "w" / f"{p}-{v}",
                    f"bench-p{p}",
                    f"1.{v}",
                    requires=[f"bench-p{p - 1}>=1.0"] if p else [],
                )
                for p in range(PROJECTS)
                for v in range(VERSIONS)
            ]
            started = time.perf_counter()
            _upload_all(project, project.stage_index(), wheels)
            upload_s = time.perf_counter() - started
            with connect(project, "owner") as owner:
                for v in range(PROMOTED // PROJECTS):
                    for p in range(PROJECTS):
                        promote(
                            owner,
                            project.name,
                            f"bench-p{p}",
                            f"1.{v}",
                            source=project.stage_index(),
                            target=project.stage_index("qa"),
                        )
            _record_jobs(project)
            caught_up = _wait_catalog(project)

            # what a page would pay without the catalog: the stage read from devpi
            with IndexClient(project.url) as client:
                direct = []
                for _ in range(5):
                    t = time.perf_counter()
                    catalog.read_index(client, project.stage_index())
                    direct.append(time.perf_counter() - t)
                conn = db.open_db(project.root)
                t = time.perf_counter()
                serial = int(client.status()["serial"])
                intake.sweep(conn, intake.IndexCache(client), serial, project.stage_indexes)
                sweep_s = time.perf_counter() - t
                conn.close()

            app = WebApp(project)
            with connect(project, "owner") as owner:
                header = {"X-Devpi-Auth": _header(owner)}
            release = f"/releases/dev/bench-p{PROJECTS - 1}/1.{VERSIONS // 2}"
            api = "/api/v1/stages/dev/releases?limit=50"
            for path in ("/stages", release, api):  # warm: templates, token check
                _render(app, path, header)
            stages = [_render(app, "/stages", header) for _ in range(RENDERS)]
            anon = [_render(app, "/stages") for _ in range(RENDERS)]
            detail = [_render(app, release, header) for _ in range(RENDERS)]
            listing = [_render(app, api, header) for _ in range(RENDERS)]
            total = sum(catalog.count(db.open_db(project.root), i) for i in project.stage_indexes)
        finally:
            pipl("proj", "stop", env=env, check=False)
    print_table(
        f"releases dashboard, {total} releases on the stages ({PROJECTS} packls x "
        f"{VERSIONS} versions on dev, {PROMOTED} on qa), {PROJECTS * VERSIONS * JOBS_PER_RELEASE} "
        "CI jobs",
        [
            ("fill: 1,000 uploads (4 threads, checked)", f"{upload_s:.1f} s"),
            ("runner's catalog caught up after the last change", f"{caught_up:.1f} s"),
            ("one full catalog sync (the sweep, 3 stages)", f"{sweep_s * 1000:.0f} ms"),
            ("reading dev from devpi directly (per page)", _ms(direct)),
            ("/stages as the owner (WSGI, server-side)", _ms(stages)),
            ("/stages anonymous", _ms(anon)),
            (f"{release}", _ms(detail)),
            ("API GET stages/dev/releases?limit=50", _ms(listing)),
        ],
    )


def _header(client) -> str:  # type: ignore[no-untyped-def]
    import base64

    token = client.token
    return base64.b64encode(f"{token.user}:{token.token}".encode()).decode()


if __name__ == "__main__":
    main()
