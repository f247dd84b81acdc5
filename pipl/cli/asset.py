"""``pipl asset``: the project's asset store (content-addressed, like git-lfs objects)."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipl.cli.output import emit_json, table
from pipl.cli.state import AppState, boundary, pass_state

if TYPE_CHECKING:
    from pipl_pipe.assets.objects import AssetStore


def _store(state: AppState) -> AssetStore:
    from pipl.assets.project_store import project_store

    return project_store(state.project())


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(size)


@click.group()
def asset() -> None:
    """The asset store: large files and folders kept by sha256 (default PROJECT/assets).

    Products reference assets by hash; `pipl asset gc` removes only objects that no
    published product references.
    """


@asset.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
@boundary
def add(state: AppState, paths: tuple[Path, ...], as_json: bool) -> None:
    """Store files or folders; print their sha256 (adding again is near-instant)."""
    store = _store(state)
    rows = []
    for path in paths:
        started = time.perf_counter()
        stored = store.put(path)
        took = time.perf_counter() - started
        rows.append(
            {
                "path": str(path),
                "sha256": stored.sha256,
                "size": stored.size,
                "kind": stored.kind,
                "added": stored.added,
                "seconds": round(took, 3),
            }
        )
    if as_json:
        emit_json("assets-added", rows)
        return
    for r in rows:
        state_word = "added" if r["added"] else "already stored"
        rate = r["size"] / r["seconds"] / 1e6 if r["seconds"] and r["added"] else None
        speed = f", {rate:.0f} MB/s" if rate else ""
        click.echo(
            f"{r['sha256']}  {r['kind']:4}  {_human(r['size']):>10}  {r['path']}  "
            f"({state_word}, {r['seconds']:.2f}s{speed})"
        )


@asset.command()
@click.argument("sha256")
@click.argument("dest", type=click.Path(path_type=Path))
@pass_state
@boundary
def get(state: AppState, sha256: str, dest: Path) -> None:
    """Copy object SHA256 out to DEST (a folder for a folder object), verified."""
    store = _store(state)
    kind = store.kind_of(sha256)
    if dest.exists() and (kind == "file" or any(dest.iterdir())):
        raise click.UsageError(f"{dest} exists; give a new path")
    store.fetch(sha256, dest, kind)
    click.echo(f"{sha256} -> {dest} ({kind}, verified)")


@asset.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
@boundary
def ls(state: AppState, as_json: bool) -> None:
    """List stored objects."""
    store = _store(state)
    rows = [
        {"sha256": sha, "size": size, "kind": store.kind_of(sha)} for sha, size in store.objects()
    ]
    if as_json:
        emit_json("assets", {"store": store.url, "objects": rows})
        return
    click.echo(f"store: {store.url}  ({len(rows)} objects, {_human(sum(r['size'] for r in rows))})")
    table([(r["sha256"], r["kind"], _human(r["size"])) for r in rows], ["SHA256", "KIND", "SIZE"])


@asset.command()
@click.argument("objects", nargs=-1)
@pass_state
@boundary
def verify(state: AppState, objects: tuple[str, ...]) -> None:
    """Re-hash objects (all by default); exit 9 naming every corrupted one."""
    from pipl_pipe.errors import AssetCorrupted

    store = _store(state)
    shas = list(objects) or [sha for sha, _ in store.objects()]
    bad = []
    # a progress bar for people at a terminal, nothing for logs
    bar = click.progressbar(shas, label="verifying", show_pos=True, file=sys.stderr)
    with bar if sys.stderr.isatty() else contextlib.nullcontext(shas) as todo:
        for sha in todo:
            try:
                store.verify(sha)
            except AssetCorrupted:
                bad.append(sha)
    if bad:
        from pipl.errors import FrameworkError

        raise FrameworkError(
            f"{len(bad)} of {len(shas)} objects are corrupted: {', '.join(bad)}; "
            "restore them from a backup or add their assets again"
        )
    click.echo(f"{len(shas)} objects verified.")


@asset.command()
@click.option("--dry-run", "-n", is_flag=True, help="Only say what would be removed.")
@click.option(
    "--grace",
    type=float,
    default=1.0,
    show_default=True,
    help="Keep objects younger than this many hours (products being published).",
)
@pass_state
@boundary
def gc(state: AppState, dry_run: bool, grace: float) -> None:
    """Remove objects that no published product references."""
    from pipl.assets.gc import collect

    store = _store(state)
    with state.client("anonymous") as client:
        report = collect(client, store, grace_seconds=grace * 3600, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{len(report.products)} published products reference {len(report.referenced)} objects."
    )
    for sha, size in report.removed:
        click.echo(f"{verb} {sha} ({_human(size)})")
    click.echo(
        f"{verb} {len(report.removed)} objects, {_human(report.freed)}; kept "
        f"{len(report.kept_recent)} unreferenced objects younger than {grace:g} h."
    )
