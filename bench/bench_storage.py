"""The index on SQLite (devpi's default) beside the index on PostgreSQL (devpi-postgresql),
in the same run: uploads per second and simple-page time.

Each storage gets a fresh project with its server running (the test suite's lowered
argon2 parameters, which only change login times); PostgreSQL is a local server on
loopback started for the run (``tests/pgserver.py``, the one the tests use). The uploads
are small wheels sent one after the other by pipl's client, the simple page is read by
plain HTTP GETs, as pip and uv do.

``replica_main`` (``bench/run.py replica``): how long after an upload's answer on the
primary its file shows on the simple page of a replica (``pipl proj replica``).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import free_port, print_table

ROOT = Path(__file__).resolve().parent.parent
UPLOADS = 60
READS = 200
FAST_ARGON2 = ["--argon2-memory-cost", "8", "--argon2-time-cost", "1", "--argon2-parallelism", "1"]


def _measure(tmp: Path, label: str, **create: object) -> dict[str, float]:
    from pipl.index.session import connect
    from pipl.index.stages import create_default
    from pipl.index.wheelpack import write_wheel
    from pipl.project import server
    from pipl.project.create import create_project

    proj = create_project(
        tmp / label,
        port=free_port(),
        pypi_mirror=False,
        server_args=FAST_ARGON2,
        **create,  # type: ignore[arg-type]  # keyword pass-through
    )
    wheels = [
        write_wheel(
            tmp / f"{label}-w",
            "bench-up",
            f"1.{i}",
            {"bench_up/__init__.py": b""},
            {"METADATA": f"Metadata-Version: 2.1\nName: bench-up\nVersion: 1.{i}\n".encode()},
        )
        for i in range(UPLOADS)
    ]
    out: dict[str, float] = {}
    started = time.perf_counter()
    with server.running(proj):
        out["start (s)"] = time.perf_counter() - started
        with connect(proj, "admin") as admin:
            create_default(proj, admin)
        with connect(proj, "owner") as owner:
            dev = proj.stage_index()
            began = time.perf_counter()
            for wheel in wheels:
                owner.upload(dev, wheel)
            out["uploads/s"] = UPLOADS / (time.perf_counter() - began)
        page = proj.simple_url() + "bench-up/"
        samples = []
        with httpx.Client(timeout=30) as client:
            client.get(page).raise_for_status()
            for _ in range(READS):
                t0 = time.perf_counter()
                client.get(page).raise_for_status()
                samples.append(time.perf_counter() - t0)
        out[f"simple page, {UPLOADS} files (ms, median)"] = statistics.median(samples) * 1000
        out["simple page (ms, p95)"] = sorted(samples)[int(0.95 * len(samples))] * 1000
    return out


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from pgserver import NoPostgres, running_postgres

    with tempfile.TemporaryDirectory() as tmp:
        sqlite = _measure(Path(tmp), "sqlite")
        try:
            with running_postgres(free_port()) as pg:
                settings, password = pg.new_database("benchpg")
                postgres = _measure(
                    Path(tmp), "postgresql", postgresql=settings, storage_password=password
                )
        except NoPostgres as exc:
            print(f"\n## index storage: PostgreSQL not measured ({exc})")
            return
    rows = []
    for key in sqlite:
        # how many times longer PostgreSQL takes (a rate's ratio is inverted)
        slower = sqlite[key] / postgres[key] if key.endswith("/s") else postgres[key] / sqlite[key]
        rows.append(
            (
                key,
                f"sqlite {sqlite[key]:8.1f}   postgresql {postgres[key]:8.1f}   "
                f"(PostgreSQL takes x{slower:.1f} the time)",
            )
        )
    print_table("index storage: devpi on SQLite vs PostgreSQL (same machine, same run)", rows)


if __name__ == "__main__":
    main()


def _replica_delays(tmp: Path, rounds: int) -> list[float]:
    """Seconds from an upload's answer on the primary to its file on the replica's
    simple page, for ``rounds`` uploads one after the other."""
    from pipl.index.session import connect
    from pipl.index.stages import create_default
    from pipl.index.wheelpack import write_wheel
    from pipl.project import server
    from pipl.project.create import create_project
    from pipl.project.replica import create_replica

    primary = create_project(
        tmp / "primary", port=free_port(), pypi_mirror=False, server_args=FAST_ARGON2
    )
    delays = []
    with server.running(primary):
        with connect(primary, "admin") as admin:
            create_default(primary, admin)
        mirror = create_replica(
            tmp / "mirror",
            primary_url=primary.url,
            server_secret=primary.secrets.server_secret_file.read_bytes(),
            name=primary.name,
            port=free_port(),
            server_args=FAST_ARGON2,
        )
        with server.running(mirror), connect(primary, "owner") as owner, httpx.Client() as http:
            page = mirror.simple_url() + "bench-rep/"
            for i in range(rounds):
                name = f"bench_rep-1.{i}-py3-none-any.whl"
                meta = f"Metadata-Version: 2.1\nName: bench-rep\nVersion: 1.{i}\n".encode()
                wheel = write_wheel(tmp / "w", "bench-rep", f"1.{i}", {}, {"METADATA": meta})
                owner.upload(primary.stage_index(), wheel)
                began = time.perf_counter()
                while name not in http.get(page, timeout=30).text:
                    time.sleep(0.01)
                delays.append(time.perf_counter() - began)
    return delays


def replica_main(rounds: int = 20) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        delays = _replica_delays(Path(tmp), rounds)
    rows = [
        ("median (ms)", f"{statistics.median(delays) * 1000:.0f}"),
        ("max (ms)", f"{max(delays) * 1000:.0f}"),
        ("uploads", str(len(delays))),
    ]
    print_table("replica: from an upload's answer on the primary to the replica's page", rows)
