"""Helpers the built-in handlers share: a release's files, downloads, toxresults."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

from pipl.ci.handlers import HandlerFailed, JobContext
from pipl.index.links import Link


def release_files(ctx: JobContext) -> list[Link]:
    return [
        lk for lk in ctx.client.links(ctx.index, ctx.name, ctx.version) if lk.rel == "releasefile"
    ]


def the_file(ctx: JobContext, filename: str | None = None) -> Link:
    """The link of the job's file (or ``filename``), checked against the event's sha256."""
    filename = filename or ctx.filename
    for link in release_files(ctx):
        if link.basename == filename:
            if filename == ctx.filename and link.sha256 != ctx.sha256:
                raise HandlerFailed(
                    f"{filename} on {ctx.index} changed since the upload (sha256 "
                    f"{link.sha256} instead of {ctx.sha256}): its newer event runs instead"
                )
            return link
    raise HandlerFailed(f"{filename} is no longer on {ctx.index}")


def download(ctx: JobContext, link: Link) -> Path:
    dest = ctx.workdir / "files"
    dest.mkdir(parents=True, exist_ok=True)
    return ctx.client.download(link.href, dest / link.basename)


def toxresult(
    ctx: JobContext, envname: str, commands: list[dict[str, Any]], *, tag: str
) -> dict[str, Any]:
    """A result in tox's ``--result-json`` shape, for ``devpi list``; ``pipl`` marks the
    job that made it, so a rerun finds it."""
    return {
        "reportversion": "1",
        "toxversion": "pipl-ci",
        "platform": sys.platform,
        "host": platform.node(),
        "installpkg": {"basename": ctx.filename, "sha256": ctx.sha256},
        "testenvs": {envname: {"test": commands, "python": {"version": sys.version}}},
        "pipl": {"tag": tag, "job": ctx.job_id},
    }


def existing_toxresult(ctx: JobContext, link: Link, tag: str) -> dict[str, Any] | None:
    """A result attached to ``link`` by an earlier run of the same job (``tag``)."""
    for other in ctx.client.links(ctx.index, ctx.name, ctx.version):
        if other.rel != "toxresult" or not other.for_href:
            continue
        if other.for_href.split("#", 1)[0].rsplit("/", 1)[-1] != link.basename:
            continue
        path = ctx.workdir / "toxresults" / other.basename
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(ctx.client.download(other.href, path).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and (data.get("pipl") or {}).get("tag") == tag:
            return data
    return None


def announce(ctx: JobContext, index: str, name: str, version: str) -> int:
    """Note that this job put release ``name version`` on ``index`` (``client.wait``
    follows it there), and record the events of its files when ``index`` has handlers (a
    push runs no upload hook before commit, so the runner would otherwise wait for devpi's
    notification thread or its sweep). Idempotent, like every event."""
    from pipl.ci import db
    from pipl.ci.intake import release_events
    from pipl.names import normalize_dist

    conn = db.open_db(ctx.project.root)
    try:
        db.record_made(conn, ctx.job_id, index, normalize_dist(name), version)
        if not (ctx.client.get_index(index).get("pipl_handlers") or []):
            return 0
        serial = int(ctx.client.status().get("serial", -1))
        return release_events(conn, ctx.client, index, name, version, serial, "push")
    finally:
        conn.close()
