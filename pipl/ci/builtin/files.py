"""Helpers the built-in handlers share: a release's files, downloads, toxresults."""

from __future__ import annotations

import json
import platform
import sys
import tarfile
import zipfile
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


def expect(ctx: JobContext, index: str, name: str, version: str) -> None:
    """Note, before uploading it, that this job makes release ``name version`` on
    ``index``: the upload's own event may reach the runner before ``announce`` runs, and
    the re-processings it queues must find the job (and its chain) that made it."""
    from pipl.ci import db
    from pipl.names import normalize_dist

    conn = db.open_db(ctx.project.root)
    try:
        db.record_made(conn, ctx.job_id, index, normalize_dist(name), version)
    finally:
        conn.close()


def announce(ctx: JobContext, index: str, name: str, version: str) -> int:
    """Note that this job put release ``name version`` on ``index`` (``client.wait``
    follows it there), and when ``index`` has handlers record the events of its files (a
    push runs no upload hook before commit, so the runner would otherwise wait for devpi's
    notification thread or its sweep) and that it is there whole: its jobs there start
    without the settle window, whoever recorded its events first. Idempotent, like every
    event."""
    from pipl.ci import db, outbox
    from pipl.ci.intake import release_events
    from pipl.names import normalize_dist

    project = normalize_dist(name)
    with db.open_db(ctx.project.root) as conn:
        db.record_made(conn, ctx.job_id, index, project, version)
        if not (ctx.client.get_index(index).get("pipl_handlers") or []):
            return 0
        outbox.record_complete(conn, index=index, project=project, version=version)
        serial = int(ctx.client.status().get("serial", -1))
        new = release_events(conn, ctx.client, index, name, version, serial, "push")
        db.end_settle(conn, index, project, version)  # jobs made from its hooks' events
        return new


def release_resources(source: Path) -> dict[str, float]:
    """``[tool.pipl] resources`` of an unpacked sdist: the Dask worker resources its CI
    jobs ask for (``{abi-cp312 = 1}``), checked; none when absent or not a packl."""
    import tomllib

    from pipl import names
    from pipl.errors import UsageError

    try:
        data = tomllib.loads((source / "pyproject.toml").read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    asked = (data.get("tool") or {}).get("pipl", {}).get("resources") or {}
    problem = "must be a table of resource = positive amount"
    if not isinstance(asked, dict):
        raise HandlerFailed(f"[tool.pipl] resources {problem}")
    try:
        return {names.check_simple(k, "resource"): _amount(v, problem) for k, v in asked.items()}
    except UsageError as exc:
        raise HandlerFailed(f"[tool.pipl] resources: {exc}") from None


def _amount(value: Any, problem: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise HandlerFailed(f"[tool.pipl] resources {problem}")
    return float(value)


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack an sdist safely (no member outside ``dest``); return its top folder."""
    dest.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                if not (dest / member).resolve().is_relative_to(dest.resolve()):
                    raise HandlerFailed(f"{archive.name} holds a path outside the sdist: {member}")
            zf.extractall(dest)  # noqa: S202 - every member checked above
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    tops = [p for p in dest.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else dest
