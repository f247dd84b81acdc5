"""``pipl asset``: the project's asset store (content-addressed, like git-lfs objects)."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipl.cli.output import emit_json, table
from pipl.cli.state import AppState, pass_state

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

    The store is the project's asset_store service, as its packls see it (pipl.toml
    [services] asset_store and [config.asset_store]). Products reference assets by hash;
    `pipl asset gc` removes only objects that no published product references.
    """


@asset.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def add(state: AppState, paths: tuple[Path, ...], as_json: bool) -> None:
    """Store files or folders; print their sha256 (adding again is near-instant).

    Adding an object the store has already makes it young again for `pipl asset gc`.

    \b
    Example:
      pipl asset add renders/plate.exr textures/
    """
    rows: list[dict[str, Any]] = []
    with _store(state) as store:
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
def get(state: AppState, sha256: str, dest: Path) -> None:
    """Copy object SHA256 out to DEST (a folder for a folder object), verified.

    \b
    Example:
      pipl asset get 3f1c...e9 ./plate.exr
    """
    with _store(state) as store:
        kind = store.kind_of(sha256)
        if dest.exists() and (kind == "file" or any(dest.iterdir())):
            raise click.UsageError(f"{dest} exists; give a new path")
        store.fetch(sha256, dest, kind)
    click.echo(f"{sha256} -> {dest} ({kind}, verified)")


@asset.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def ls(state: AppState, as_json: bool) -> None:
    """List stored objects, with their kind (file or folder tree) as the store recorded it.

    \b
    Example:
      pipl asset ls --json
    """
    with _store(state) as store:
        url = store.url
        rows: list[dict[str, Any]] = [
            {"sha256": sha, "size": size, "kind": store.kind_of(sha)}
            for sha, size in store.objects()
        ]
    if as_json:
        emit_json("assets", {"store": url, "objects": rows})
        return
    click.echo(f"store: {url}  ({len(rows)} objects, {_human(sum(r['size'] for r in rows))})")
    table([(r["sha256"], r["kind"], _human(r["size"])) for r in rows], ["SHA256", "KIND", "SIZE"])


@asset.command()
@click.argument("objects", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def verify(state: AppState, objects: tuple[str, ...], as_json: bool) -> None:
    """Re-hash objects (all by default); exit 9 naming every corrupted or missing one.

    \b
    Example:
      pipl asset verify
      pipl asset verify --json 3f1c...e9
    """
    from pipl.assets.verify import verify_objects
    from pipl.errors import FrameworkError

    with _store(state) as store:
        todo = list(objects) or [sha for sha, _ in store.objects()]
        # a progress bar for people at a terminal, nothing for logs or --json
        show = sys.stderr.isatty() and not as_json
        bar = click.progressbar(length=len(todo), label="verifying", show_pos=True, file=sys.stderr)
        with bar if show else contextlib.nullcontext(bar):
            report = verify_objects(store, todo, on_each=lambda _: bar.update(1) if show else None)
    if as_json:
        emit_json(
            "assets-verified",
            {
                "store": report.store,
                "checked": report.checked,
                "corrupted": report.corrupted,
                "missing": report.missing,
            },
        )
    if report.corrupted or report.missing:
        problems = [f"{len(report.corrupted)} of {report.checked} objects are corrupted"]
        if report.corrupted:
            problems[0] += f": {', '.join(report.corrupted)}"
        if report.missing:
            problems.append(f"missing: {', '.join(report.missing)}")
        raise FrameworkError(
            "; ".join(problems) + "; restore them from a backup or add their assets again"
        )
    if not as_json:
        click.echo(f"{report.checked} objects verified.")


@asset.command()
@click.option("--dry-run", "-n", is_flag=True, help="Only say what would be removed.")
@click.option(
    "--grace",
    type=float,
    default=1.0,
    show_default=True,
    help="Keep objects added (or added again) less than this many hours ago, counted on "
    "the store's own clock (an object store's time, not this machine's).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def gc(state: AppState, dry_run: bool, grace: float, as_json: bool) -> None:
    """Remove objects that no published product references.

    Refuses to remove anything when a published product's manifest cannot be read or is
    of a format this pipl does not know.

    \b
    Example:
      pipl asset gc --dry-run
      pipl asset gc --grace 24 --json
    """
    from pipl.assets.gc import collect

    with _store(state) as store, state.client("anonymous") as client:
        report = collect(client, store, grace_seconds=grace * 3600, dry_run=dry_run)
    if as_json:
        emit_json(
            "assets-gc",
            {
                "store": report.store,
                "dry_run": dry_run,
                "grace_hours": grace,
                "products": report.products,
                "referenced": len(report.referenced),
                "removed": [{"sha256": sha, "size": size} for sha, size in report.removed],
                "freed": report.freed,
                "kept_recent": report.kept_recent,
            },
        )
        return
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
