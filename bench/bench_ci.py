"""CI on upload: latency, the publish-to-product loop, and a burst.

One offline project, its server and CI runner started by ``pipl proj start`` (2 workers):

- upload -> job queued and job start over 50 uploads, one a second (the job of a handler
  that does no work, ``webhook`` with no URL), beside the time devpi's notification thread
  (which runs the upload hooks) reached each upload's serial;
- publish of a task packl's sdist to ``dev`` -> its product installed from ``qa``, the
  stage it lands on beside its release (the default gate of ``prod`` waits for an
  approval), by ``uv pip install`` (wheel, qa, promote, process): p50 of ``LOOP_N`` runs after
  one that warms the caches, each job's share, its phases (from the ``phase ... took``
  lines of its log) and the wait before it, beside the raw tool steps measured in the same
  run (upload, uv venv, uv pip install, uv build, upload); ``python bench/run.py ci-loop``
  runs this part alone;
- a burst of 200 uploads: jobs per minute with 2 workers, and how many were lost;
- kill -9 of the runner, then of devpi-server, in the middle of a burst of 50 uploads.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import BenchProject, print_table, timed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

LATENCY_N = 50
LOOP_N = 5  # measured runs of the publish -> product loop (after one to warm the caches)
LOOP_TITLE = f"publish task -> product installable from qa (warm uv cache, p50 of {LOOP_N} runs)"
LOOP_STAGE = "qa"  # where a product lands: beside its release, until an approval moves both
SPACING = 1.0  # seconds between two uploads: more than a job takes, so none waits for a worker
BURST_N = 200


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _jobs(project, index: str):  # type: ignore[no-untyped-def]
    from pipl.ci import db

    conn = db.open_db(project.root)
    try:
        return [j for j in db.list_jobs(conn, limit=100_000) if j.index == index]
    finally:
        conn.close()


def _wait_jobs(project, index: str, n: int, timeout: float = 900.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = _jobs(project, index)
        if len(jobs) >= n and all(j.state in ("passed", "failed", "cancelled") for j in jobs):
            return jobs
        time.sleep(0.2)
    return _jobs(project, index)


def _sources(project, index: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from pipl.ci import outbox

    conn = outbox.connect(outbox.ci_dir(project.root))
    try:
        return dict(
            conn.execute(
                "SELECT source, COUNT(*) FROM events WHERE ix = ? GROUP BY source", (index,)
            ).fetchall()
        )
    finally:
        conn.close()


START_TITLE = f"upload -> job start ({LATENCY_N} uploads, one every {SPACING:.0f} s, 2 workers)"


def upload_to_start(project, owner, lat: str, tmp: Path) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Upload ``LATENCY_N`` wheels to ``lat`` (an index running ``webhook`` with no URL),
    one every ``SPACING`` seconds: when each job was queued and started after its upload,
    beside when devpi's notification thread reached the upload's serial."""
    from helpers import make_wheel

    sent: dict[str, float] = {}
    serials: list[tuple[int, float]] = []
    watcher = _EventSerialWatcher(project.url)
    watcher.start()
    for i in range(LATENCY_N):
        wheel = make_wheel(tmp / "lat" / str(i), f"lat{i}", "1.0")
        sent[f"lat{i}"] = time.time()
        owner.upload(lat, wheel)
        serials.append((int(owner.status()["serial"]), sent[f"lat{i}"]))
        time.sleep(SPACING)
    jobs = _wait_jobs(project, lat, LATENCY_N)
    watcher.stop.set()
    watcher.join()
    starts = [j.started - sent[j.project] for j in jobs if j.started]
    queued = [j.created - sent[j.project] for j in jobs]
    took = [j.seconds or 0.0 for j in jobs]
    hook_lat = [watcher.reached(serial) - t for serial, t in serials]
    sources = _sources(project, lat)
    return [
        ("job queued p50", f"{statistics.median(queued):.3f} s"),
        ("job queued p95", f"{_pct(queued, 0.95):.3f} s"),
        ("job start p50", f"{statistics.median(starts):.3f} s"),
        ("job start p95", f"{_pct(starts, 0.95):.3f} s"),
        ("job start max", f"{max(starts):.3f} s"),
        ("devpi event-serial reached p50", f"{statistics.median(hook_lat):.3f} s"),
        ("devpi event-serial reached p95", f"{_pct(hook_lat, 0.95):.3f} s"),
        ("devpi event-serial reached max", f"{max(hook_lat):.3f} s"),
        ("events first recorded by", ", ".join(f"{k} {v}" for k, v in sources.items())),
        ("a job (webhook, no URL) takes p50", f"{statistics.median(took):.3f} s"),
    ]


def start_main() -> None:
    """Only the upload -> job start part (``python bench/run.py ci-start``)."""
    from ci_support import handled_index

    from pipl.index.session import connect
    from pipl.project.project import Project

    with tempfile.TemporaryDirectory(prefix="pipl-bench-ci-") as tmp_name:
        tmp = Path(tmp_name)
        with BenchProject(tmp) as bp:
            project = Project.load(bp.root)
            with connect(project, "admin") as admin:
                lat = handled_index(admin, project, "lat", ["webhook"])
            with connect(project, "owner") as owner:
                rows = upload_to_start(project, owner, lat, tmp)
    print_table(START_TITLE, rows)


class _EventSerialWatcher(threading.Thread):
    """Polls ``/+status`` and notes when devpi's notification thread (which runs the
    upload hooks) reached each serial."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.seen: list[tuple[int, float]] = []

    def run(self) -> None:
        from pipl.index.client import IndexClient

        with IndexClient(self.url) as client:
            while not self.stop.is_set():
                self.seen.append((int(client.status()["event-serial"]), time.time()))
                time.sleep(0.02)

    def reached(self, serial: int) -> float:
        return next((t for s, t in self.seen if s >= serial), float("nan"))


def main() -> None:
    from ci_support import handled_index
    from helpers import make_wheel

    from pipl.index.session import connect
    from pipl.project.project import Project

    with tempfile.TemporaryDirectory(prefix="pipl-bench-ci-") as tmp_name:
        tmp = Path(tmp_name)
        with BenchProject(tmp) as bp:
            project = Project.load(bp.root)
            with connect(project, "admin") as admin:
                lat = handled_index(admin, project, "lat", ["webhook"])
                burst = handled_index(admin, project, "burst", ["webhook"])
            owner = connect(project, "owner")
            latency_rows = upload_to_start(project, owner, lat, tmp)
            # -- 2. publish -> product installable -----------------------------------------
            loop_rows = publish_loop(project, owner, bp.env, tmp)
            # -- 3. a burst of 200 ------------------------------------------------------------
            t_burst = time.time()
            for i in range(BURST_N):
                owner.upload(burst, make_wheel(tmp / "burst" / str(i), f"b{i}", "1.0"))
            t_sent = time.time() - t_burst
            bjobs = _wait_jobs(project, burst, BURST_N)
            done = [j for j in bjobs if j.state == "passed"]
            span = max(j.finished or 0 for j in bjobs) - t_burst
            kill_rows = _kill_scenarios(project, owner, tmp)
            owner.close()
        print_table(START_TITLE, latency_rows)
        print_table(LOOP_TITLE, loop_rows)
        print_table(
            f"burst of {BURST_N} uploads, 2 workers",
            [
                ("uploads sent in", f"{t_sent:.1f} s"),
                ("all jobs done after", f"{span:.1f} s"),
                ("jobs per minute", f"{len(done) / span * 60:.0f}"),
                ("jobs passed", f"{len(done)} of {BURST_N}"),
                ("lost (no job)", f"{BURST_N - len({j.project for j in bjobs})}"),
            ],
        )
        print_table("reliability", kill_rows)


KILL_N = 50


def _kill_scenarios(project, owner, tmp: Path) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """kill -9 the runner, then devpi-server, in the middle of a burst of ``KILL_N``
    uploads to an index with ``qa`` and ``promote``; after a restart every release must be
    promoted, each job must have run to its end once, and no file must be on the target
    twice."""
    import os
    import signal

    from ci_support import handled_index
    from helpers import make_wheel

    from pipl.ci import service
    from pipl.index.session import connect
    from pipl.project import server

    rows = []
    for victim in ("runner", "devpi-server"):
        with connect(project, "admin") as admin:
            out = handled_index(admin, project, f"out-{victim}", [])
            src = handled_index(admin, project, f"src-{victim}", ["qa", "promote"], out)
        names = [f"k{victim[0]}{i}" for i in range(KILL_N)]
        for i, name in enumerate(names):
            if i == KILL_N // 2:
                if victim == "runner":
                    os.kill(service.runner_pid(project) or 0, signal.SIGKILL)
                    time.sleep(0.2)
                    service.start_detached(project)
                else:
                    os.kill(server.read_pid(project) or 0, signal.SIGKILL)
                    time.sleep(0.5)
                    server.start_detached(project)
            owner.upload(src, make_wheel(tmp / "kill" / name, name, "1.0"))
        jobs = _wait_jobs(project, src, 2 * KILL_N)
        promoted = {j.project for j in jobs if j.handler == "promote" and j.state == "passed"}
        rerun = sum(1 for j in jobs if j.attempts > 1)
        with connect(project, "anonymous") as anon:
            twice = sum(
                1
                for name in names
                if len([lk for lk in anon.links(out, name, "1.0") if lk.rel == "releasefile"]) != 1
            )
        rows.append(
            (
                f"kill -9 {victim} mid-burst of {KILL_N}",
                f"{len(promoted)}/{KILL_N} promoted, {len(jobs)} jobs, "
                f"{rerun} run again after the kill, {KILL_N - len(promoted)} lost, "
                f"{twice} releases not exactly once on the target",
            )
        )
    return rows


def _all_jobs(project):  # type: ignore[no-untyped-def]
    from pipl.ci import db

    conn = db.open_db(project.root)
    try:
        return db.list_jobs(conn, limit=100_000)
    finally:
        conn.close()


if __name__ == "__main__":
    main()


PHASE = re.compile(r"^phase (.+) took ([0-9.]+) s$")


def _phases(project, job_id: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from pipl.ci.runner import log_path

    found: dict[str, float] = {}
    try:
        text = log_path(project, job_id).read_text(errors="replace")
    except OSError:
        return found
    for line in text.splitlines():
        m = PHASE.match(line.strip())
        if m:
            found[m.group(1)] = found.get(m.group(1), 0.0) + float(m.group(2))
    return found


def _one_loop(project, owner, env: dict[str, str], tmp: Path, name: str):  # type: ignore[no-untyped-def]
    """Publish the sdist of task ``name`` to dev; wait until its product's wheel is on
    ``LOOP_STAGE`` and a plain ``uv pip install`` of the product from there succeeds."""
    from ci_support import task_sdist

    from pipl.index.session import connect

    uv = str(Path(sys.executable).parent / "uv")
    sdist = task_sdist(tmp, name, "0.1.0")
    venv = tmp / f"install-{name}"
    timed([uv, "venv", "--quiet", "--python", sys.executable, venv], env)
    target_index = project.stage_index(LOOP_STAGE)
    target = project.simple_url(target_index)
    t0 = time.time()
    owner.upload(project.stage_index("dev"), sdist)
    t_upload = time.time() - t0
    deadline = time.monotonic() + 600
    with connect(project, "anonymous") as anon:
        while time.monotonic() < deadline:
            links = anon.links(target_index, f"{name}-report", "0.1.0")
            if any(lk.basename.endswith(".whl") for lk in links):
                break
            time.sleep(0.02)
    t_visible = time.time() - t0
    argv = [uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python"]
    timed([*argv, "--index-url", target, f"{name}-report==0.1.0"], env)
    t_installed = time.time() - t0
    jobs = [j for j in _all_jobs(project) if j.project == name]
    while any(j.state in ("queued", "running") for j in jobs):  # the last job's end
        time.sleep(0.1)
        jobs = [j for j in _all_jobs(project) if j.project == name]
    return t0, t_upload, t_visible, t_installed, sorted(jobs, key=lambda j: j.started or 0)


def publish_loop(project, owner, env: dict[str, str], tmp: Path) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """``LOOP_N`` runs of the loop after a warm-up; each job's share and phases (p50 over
    the runs), the gaps between jobs, beside the raw tool steps measured in the same run."""
    _one_loop(project, owner, env, tmp, "bench-warm")
    runs = []
    for i in range(LOOP_N):
        runs.append(_one_loop(project, owner, env, tmp, f"bench-task{i}"))
    installed = [r[3] for r in runs]
    visible = [r[2] for r in runs]
    p50 = statistics.median(installed)
    rows = [
        (f"total: upload -> product installed from {LOOP_STAGE}, p50", f"{p50:.2f} s"),
        ("  each run", ", ".join(f"{t:.2f}" for t in installed) + " s"),
        (
            f"  of which: product's wheel on {LOOP_STAGE}, p50",
            f"{statistics.median(visible):.2f} s",
        ),
    ]
    # each job (in the order they ran), its phases, and the wait before it
    steps: dict[str, list[list[float]]] = {}
    order: list[str] = []
    for t0, _, _, _, jobs in runs:
        t_prev = t0
        for j in jobs:
            label = f"job {j.handler} on {j.index}"
            if label not in steps:
                steps[label] = [[], []]
                order.append(label)
            steps[label][0].append(j.seconds or 0.0)
            steps[label][1].append((j.started or 0) - t_prev)
            t_prev = max(t_prev, j.finished or 0.0)
    phases: dict[str, dict[str, list[float]]] = {}
    for _, _, _, _, jobs in runs:
        for j in jobs:
            for k, v in _phases(project, j.id).items():
                phases.setdefault(f"job {j.handler} on {j.index}", {}).setdefault(k, []).append(v)
    for label in order:
        took = statistics.median(steps[label][0])
        wait = statistics.median(steps[label][1])
        rows.append((f"  {label}", f"{took:.2f} s ({took / p50 * 100:.0f}%)"))
        rows.append(("      waited before it (upload or the job before)", f"{wait:.2f} s"))
        for phase, values in phases.get(label, {}).items():
            rows.append((f"      {phase}", f"{statistics.median(values):.2f} s"))
    uv = str(Path(sys.executable).parent / "uv")
    target = project.simple_url(project.stage_index(LOOP_STAGE))
    sdist = next(tmp.glob("dist/bench_task0-*.tar.gz"))
    after = [r[3] - (max(j.finished or 0 for j in r[4]) - r[0]) for r in runs]
    rows.append(("  last job's end -> product installed", f"{statistics.median(after):.2f} s"))
    raw_venv = timed([uv, "venv", "--quiet", "--python", sys.executable, tmp / "rv"], env)
    raw_install = timed(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            tmp / "rv" / "bin" / "python",
            "--index-url",
            target,
            "bench-task0",
        ],
        env,
    )
    raw_build = timed(
        [
            uv,
            "build",
            "--quiet",
            "--wheel",
            "--python",
            sys.executable,
            "--default-index",
            target,
            "--out-dir",
            tmp / "rb",
            sdist,
        ],
        env,
    )
    from helpers import make_wheel

    t0 = time.time()
    owner.upload(project.stage_index("dev"), make_wheel(tmp / "raw", "rawup", "1.0"))
    raw_upload = time.time() - t0
    rows += [
        ("raw: upload sdist, p50", f"{statistics.median(r[1] for r in runs):.2f} s"),
        ("raw: uv venv", f"{raw_venv:.2f} s"),
        ("raw: uv pip install task", f"{raw_install:.2f} s"),
        ("raw: uv build wheel", f"{raw_build:.2f} s"),
        ("raw: upload wheel", f"{raw_upload:.2f} s"),
    ]
    return rows


def loop_main() -> None:
    """Only the publish -> product loop (``python bench/run.py ci-loop``): with the
    sandbox (the default), then in a project whose owner switched it off, side by side."""
    from pipl.index.session import connect
    from pipl.project.project import Project

    tables = []
    for label, extra in (("sandbox on", ""), ("sandbox off", "[ci.sandbox]\nenabled = false\n")):
        with tempfile.TemporaryDirectory(prefix="pipl-bench-ci-") as tmp_name:
            tmp = Path(tmp_name)
            with BenchProject(tmp, extra) as bp:
                project = Project.load(bp.root)
                with connect(project, "owner") as owner:
                    tables.append((label, publish_loop(project, owner, bp.env, tmp)))
    for label, rows in tables:
        print_table(f"{LOOP_TITLE}, {label}", rows)
    on, off = (dict(rows) for _, rows in tables)
    key = f"total: upload -> product installed from {LOOP_STAGE}, p50"
    print_table(
        "the same loop, sandbox on and off, measured in this run",
        [("sandbox on", on[key]), ("sandbox off", off[key])],
    )
