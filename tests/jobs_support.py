"""Helpers for the CI jobs API and page tests: a CI runner started as 'pipl proj start'
starts it (serving the dashboard), with one more handler, ``slowlog``, that writes its log
line by line while it runs; jobs written straight into the CI database."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fakedists import make_dist

from pipl.ci import db, outbox, service
from pipl.project.project import Project
from pipl.web.address import web_url

SLOW_MODULE = '''\
"""A CI handler that takes its time and says so, line by line."""

import time

from pipl.ci.handlers import HandlerFailed


class SlowHandler:
    rank = 0
    per_file = False
    timeout = 300.0
    needs_passed = False

    def accepts(self, filename):
        return True

    def run(self, ctx):
        steps = 300 if "forever" in ctx.name else 12
        for i in range(steps):
            ctx.log(f"step {i + 1} of {steps}")
            time.sleep(0.4)
        if ctx.name.endswith("-bad"):
            raise HandlerFailed(f"{ctx.name} {ctx.version} is bad")
        return f"{steps} steps"
'''


@contextmanager
def live_runner(project: Project, site: Path) -> Iterator[str]:
    """The project's CI runner in the background, with the ``slowlog`` handler installed
    in ``site``; yields the URL of the dashboard it serves."""
    make_dist(
        site,
        "pipl-slowlog",
        entry_points={"pipl.ci_handlers": {"slowlog": "pipl_slowlog:SlowHandler"}},
        modules={"pipl_slowlog": SLOW_MODULE},
    )
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(site)
    try:
        service.start_detached(project)
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before
    try:
        deadline = time.monotonic() + 30
        while web_url(project) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        url = web_url(project)
        assert url, "the runner serves no dashboard"
        yield url
    finally:
        service.stop(project)


def insert_job(
    project: Project, index: str, name: str, version: str, handler: str, state: str
) -> int:
    """A job that ended in ``state``, written straight into the CI database."""
    conn = db.open_db(project.root)
    try:
        event = outbox.Event(
            0, index, name, version, f"{name}-{version}.tar.gz", "0" * 64, 0, "t", 0
        )
        db.add_job(conn, handler=handler, rank=0, event=event, key="")
        (job_id,) = conn.execute(
            "SELECT id FROM jobs WHERE ix = ? AND project = ? AND version = ? AND handler = ?",
            (index, name, version, handler),
        ).fetchone()
        now = time.time()
        conn.execute(
            "UPDATE jobs SET state = ?, started = ?, finished = ?, message = ? WHERE id = ?",
            (state, now - 1, now, f"{handler} {state}", job_id),
        )
        return int(job_id)
    finally:
        conn.close()


def wait_for(predicate, timeout: float = 60.0, every: float = 0.1):  # type: ignore[no-untyped-def]
    """The first true value of ``predicate()`` within ``timeout`` seconds (else None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return None
