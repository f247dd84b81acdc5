"""The CI figures a monitoring system reads: from the CI database, opened read-only.

``figures`` reads them (one short read transaction, no write, so a scrape never holds up
the runner or the upload hook); ``exposition`` renders them in Prometheus' text format
with the maintained ``prometheus_client``, for the runner's ``/metrics`` page:

- ``pipl_ci_jobs{state}``: jobs in each state (queue depth: ``queued``, ``running``);
- ``pipl_ci_job_duration_seconds{handler,state}``: how long finished jobs ran (histogram);
- ``pipl_ci_upload_to_start_seconds{handler}``: from an upload's event being recorded to
  its job's start (its latest start, for a job that ran again), for upload-made jobs;
- ``pipl_ci_events_recorded_total``, ``pipl_ci_events_taken_total``: upload events the
  server recorded and the runner took; ``pipl_ci_jobs_made_total{handler}``: jobs made.

Labels carry handler and state names only: no project, release or index name leaves the
database here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from pipl.ci import database, outbox
from pipl.ci.db import STATES

DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass(frozen=True)
class Histogram:
    """Observations below each bound (cumulative, as Prometheus counts them), count, sum."""

    bounds: tuple[float, ...]
    below: tuple[int, ...]
    count: int
    total: float


@dataclass
class CiFigures:
    jobs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    made: dict[str, int] = field(default_factory=dict)  # jobs made, by handler
    events_recorded: int = 0
    events_taken: int = 0
    durations: dict[tuple[str, str], Histogram] = field(default_factory=dict)
    latency: dict[str, Histogram] = field(default_factory=dict)

    @property
    def events_pending(self) -> int:
        return self.events_recorded - self.events_taken


def open_read_only(project_root: Path) -> sqlite3.Connection | None:
    """The project's CI database for reading only; None before the first event."""
    return database.connect_read_only(outbox.ci_dir(project_root))


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _histograms(
    conn: sqlite3.Connection, groups: str, value: str, source: str, bounds: tuple[float, ...]
) -> Iterator[tuple[tuple[str, ...], Histogram]]:
    """One histogram per group of ``source``: SQL sums of ``value <= bound``."""
    below = ", ".join(f"SUM({value} <= ?)" for _ in bounds)
    sql = f"SELECT {groups}, COUNT(*), TOTAL({value}), {below} FROM {source} GROUP BY {groups}"  # noqa: S608 - every part is a constant of this module
    width = groups.count(",") + 1
    for row in conn.execute(sql, bounds):
        keys, (count, total), rest = row[:width], row[width : width + 2], row[width + 2 :]
        yield (
            tuple(str(k) for k in keys),
            Histogram(bounds, tuple(int(n or 0) for n in rest), int(count), float(total)),
        )


def figures(project_root: Path) -> CiFigures:
    """The CI figures of the project (all zero before its first event)."""
    result = CiFigures()
    conn = open_read_only(project_root)
    if conn is None:
        return result
    try:
        conn.execute("BEGIN")  # one snapshot of the database for every figure
        tables = _tables(conn)
        if "events" in tables:
            result.events_recorded, result.events_taken = conn.execute(
                "SELECT COUNT(*), TOTAL(taken != 0) FROM events"
            ).fetchone()
            result.events_taken = int(result.events_taken)
        if "jobs" not in tables:
            return result
        for state, n in conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state"):
            result.jobs[state] = n
        result.made = dict(
            conn.execute("SELECT handler, COUNT(*) FROM jobs GROUP BY handler ORDER BY handler")
        )
        ran = (
            "(SELECT handler, state, finished - started AS took FROM jobs "
            "WHERE state IN ('passed', 'failed') AND started IS NOT NULL "
            "AND finished IS NOT NULL)"
        )
        for (handler, state), hist in _histograms(
            conn, "handler, state", "took", ran, DURATION_BUCKETS
        ):
            result.durations[handler, state] = hist
        if "events" in tables:
            waited = (
                "(SELECT j.handler AS handler, j.started - e.recorded AS waited FROM jobs AS j "
                "JOIN events AS e ON e.id = j.event_id "
                "WHERE j.reason = '' AND j.started IS NOT NULL)"
            )
            for (handler,), hist in _histograms(conn, "handler", "waited", waited, LATENCY_BUCKETS):
                result.latency[handler] = hist
    finally:
        conn.close()
    return result


def problems(
    *, server_running: bool, plugin: bool | None, runner_running: bool, sandbox: tuple[str, str]
) -> list[str]:
    """What keeps the project's CI from working, one sentence each (none: healthy)."""
    found = []
    if not server_running:
        found.append("the server is not running: pipl proj start --detach")
    elif not plugin:
        found.append("the server runs without pipl's plugin: uploads record no CI events")
    if not runner_running:
        found.append("the CI runner is not running: pipl proj start --detach")
    if sandbox[0] != "ok":
        found.append(f"the CI sandbox is {sandbox[0]}: {sandbox[1]}")
    return found


def exposition(data: CiFigures) -> tuple[bytes, str]:
    """The figures in Prometheus' text exposition format, and its content type."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(data))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Collector(Collector):
    """Hands ``prometheus_client`` the figures read for one scrape."""

    def __init__(self, data: CiFigures) -> None:
        self.data = data

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        data = self.data
        jobs = GaugeMetricFamily(
            "pipl_ci_jobs",
            "CI jobs in each state (queued and running: the queue)",
            labels=["state"],
        )
        for state in STATES:
            jobs.add_metric([state], data.jobs.get(state, 0))
        yield jobs
        yield CounterMetricFamily(
            "pipl_ci_events_recorded", "Upload events the server recorded", data.events_recorded
        )
        yield CounterMetricFamily(
            "pipl_ci_events_taken", "Upload events the runner took", data.events_taken
        )
        yield GaugeMetricFamily(
            "pipl_ci_events_pending", "Upload events not yet taken", data.events_pending
        )
        made = CounterMetricFamily("pipl_ci_jobs_made", "CI jobs made", labels=["handler"])
        for handler, n in data.made.items():
            made.add_metric([handler], n)
        yield made
        durations = HistogramMetricFamily(
            "pipl_ci_job_duration_seconds",
            "How long finished CI jobs ran",
            labels=["handler", "state"],
        )
        for (handler, state), hist in sorted(data.durations.items()):
            durations.add_metric([handler, state], _buckets(hist), hist.total)
        yield durations
        latency = HistogramMetricFamily(
            "pipl_ci_upload_to_start_seconds",
            "From an upload's event being recorded to its job's (latest) start",
            labels=["handler"],
        )
        for handler, hist in sorted(data.latency.items()):
            latency.add_metric([handler], _buckets(hist), hist.total)
        yield latency


def _buckets(hist: Histogram) -> list[tuple[str, float]]:
    return [
        *((repr(bound), float(n)) for bound, n in zip(hist.bounds, hist.below, strict=True)),
        ("+Inf", float(hist.count)),
    ]
