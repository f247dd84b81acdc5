"""``pipl proj index``: the project's indexes (base, stages, and any others)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pipl.cli.output import emit_json, table
from pipl.cli.state import AppState, pass_state


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


@click.group()
def index() -> None:
    """Indexes of the project's server: the default chain, custom indexes, uploads."""


@index.command("create-default")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def create_default(state: AppState, as_json: bool) -> None:
    """Create the project's base index and its stage chain from pipl.toml.

    The base index carries pipl-pipe and the build backends (flit_core, setuptools,
    wheel) so packls build and install without PyPI. With the PyPI mirror on, PyPI's
    versions of those (except pipl-pipe) stay visible too, and the mirror (root/pypi) looks
    names up one at a time. Safe to run again: indexes that exist are brought back in
    line with pipl.toml.

    \b
    Example:
      pipl proj index create-default
      pipl proj index create-default --json
    """
    from pipl.index.stages import create_default as do_create

    project = state.project()
    with state.client("admin") as client:
        result = do_create(project, client)
    if as_json:
        emit_json(
            "default-indexes",
            {
                "changes": [c.__dict__ for c in result.changes],
                "bootstrap": [
                    {"filename": u.filename, "index": u.index, "uploaded": u.uploaded}
                    for u in result.bootstrap
                ],
            },
        )
        return
    table([(c.name, c.action, c.bases) for c in result.changes], ["INDEX", "ACTION", "BASES"])
    for upload in result.bootstrap:
        state_word = "uploaded" if upload.uploaded else "already there"
        click.echo(f"{upload.index} carries {upload.filename} ({state_word})")
    click.echo(f"Install from the first stage: pip install --index-url {project.simple_url()} PKG")


@index.command()
@click.argument("name")
@click.option("--bases", help="Comma-separated indexes this one inherits from.")
@click.option(
    "--volatile/--non-volatile",
    default=True,
    show_default=True,
    help="Non-volatile indexes never lose or overwrite a release.",
)
@click.option(
    "--acl-upload",
    help="Comma-separated users allowed to upload (:AUTHENTICATED: for any logged-in user).",
)
@click.option(
    "--handlers",
    help="Comma-separated CI handlers (entry points pipl.ci_handlers: qa, wheel, promote, "
    "process, webhook...) that the CI runner runs for each release uploaded here.",
)
@click.option(
    "--promote-to",
    help="Index the CI runner's promote and process handlers push to once a release passed.",
)
@pass_state
def create(
    state: AppState,
    name: str,
    bases: str | None,
    volatile: bool,
    acl_upload: str | None,
    handlers: str | None,
    promote_to: str | None,
) -> None:
    """Create index NAME (USER/INDEX, or INDEX for the project owner's).

    \b
    Example:
      pipl proj index create alice/sandbox --bases dev
    """
    full = state.index_name(name)
    options: dict[str, Any] = {}
    if handlers is not None:
        options["pipl_handlers"] = _split(handlers)
    if promote_to:
        options["pipl_promote_to"] = state.index_name(promote_to)
    with state.client("admin") as client:
        client.create_index(
            full,
            bases=[state.index_name(b) for b in _split(bases) or []],
            volatile=volatile,
            acl_upload=_split(acl_upload),
            **options,
        )
    click.echo(f"Created index {full}.")


@index.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def list_indexes(state: AppState, as_json: bool) -> None:
    """List every index with its bases and pipl CI options.

    \b
    Example:
      pipl proj index list --json
    """
    with state.client("anonymous") as client:
        indexes = client.indexes()
    if as_json:
        emit_json("indexes", indexes)
        return
    table(
        [
            (
                n,
                c.get("type"),
                c.get("bases"),
                c.get("volatile"),
                c.get("pipl_handlers"),
                c.get("pipl_promote_to") or None,
            )
            for n, c in indexes.items()
        ],
        ["INDEX", "TYPE", "BASES", "VOLATILE", "HANDLERS", "PROMOTE-TO"],
    )


@index.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def show(state: AppState, name: str, as_json: bool) -> None:
    """Show index NAME's configuration and projects.

    \b
    Examples:
      pipl proj index show dev
      pipl proj index show alice/sandbox --json
    """
    full = state.index_name(name)
    with state.client("anonymous") as client:
        config = client.get_index(full)
    if as_json:
        emit_json("index", {"name": full, **config})
        return
    click.echo(f"index: {full}")
    for key in sorted(k for k in config if k != "projects"):
        value = config[key]
        click.echo(f"  {key}: {','.join(map(str, value)) if isinstance(value, list) else value}")
    projects = config.get("projects") or []
    click.echo(f"  projects ({len(projects)}): {', '.join(sorted(projects)) or '-'}")


@index.command()
@click.argument("name")
@click.argument("version", required=False)
@click.option("--stage", help="With VERSION: the stage (only the first stage allows it).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def remove(state: AppState, name: str, version: str | None, stage: str | None, yes: bool) -> None:
    """Remove index NAME and everything on it (volatile indexes only), or, with VERSION,
    release NAME VERSION from the first stage (later stages keep their releases: yank
    it there instead).

    \b
    Examples:
      pipl proj index remove alice/sandbox --yes
      pipl proj index remove shot-010 0.2.0 --yes
    """
    if version is not None:
        from pipl.cli.proj_lifecycle import remove_release

        remove_release(state, name, version, stage, yes)
        return
    full = state.index_name(name)
    if not yes:
        click.confirm(f"Remove index {full} and all its releases?", abort=True)
    with state.client("admin") as client:
        client.delete_index(full)
    click.echo(f"Removed index {full}.")


@index.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--to", "target", help="Index to upload to (default: the first stage).")
@click.option(
    "--replace",
    is_flag=True,
    help="Replace files of an existing version that have other content (first stage only).",
)
@pass_state
def upload(state: AppState, files: tuple[Path, ...], target: str | None, replace: bool) -> None:
    """Upload wheels and sdists to an index (default: the first stage).

    An identical file already on the index is skipped. A released file never changes: a
    file with the name of one already on the index (or an index it inherits from) but
    other content is refused, and nothing is sent; bump the version.

    \b
    Examples:
      pipl proj index upload dist/*
      pipl proj index upload dist/hello_pipl-1.0.0-py3-none-any.whl --to qa
      pipl proj index upload dist/* --replace
    """
    from pipl.index.distfile import read_distfile
    from pipl.index.stages import check_replace_allowed

    project = state.project()
    full = state.index_name(target) if target else project.stage_index()
    if replace:
        check_replace_allowed(project, full)
    dists = [read_distfile(f) for f in files]  # all checked before anything is sent
    with state.client() as client:
        results = client.upload_checked(full, dists, replace=replace)
    for result in results:
        click.echo(f"{result.filename} -> {full}: {result.action}")


@index.command()
@click.argument("project_name", metavar="PROJECT")
@click.argument("version")
@click.option(
    "--to",
    "target",
    help="Stage (dev, qa...) or index (USER/NAME) to promote to "
    "(default: the stage after the furthest one holding the release).",
)
@click.option(
    "--from",
    "source",
    help="Stage or index (USER/NAME) to take it from (default: the stage just before --to; "
    "without --to, the furthest stage holding it).",
)
@click.option(
    "--with-deps",
    is_flag=True,
    help="Also push the requirements missing on the target, all or nothing.",
)
@click.option(
    "--skip-stage", is_flag=True, help="Allow a source whose next stage is not the target."
)
@click.option("--dry-run", is_flag=True, help="Show what would move and what is missing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def push(
    state: AppState,
    project_name: str,
    version: str,
    target: str | None,
    source: str | None,
    with_deps: bool,
    skip_stage: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Promote release PROJECT VERSION to another stage, its requirements checked first.

    Every requirement of the release must be on the target (or an index it inherits
    from), else nothing moves and the missing ones are listed; --with-deps pushes them
    too, and removes what it pushed again if one push fails. A release reaches a stage
    from the stage just before it; --skip-stage allows jumping. The target stage's gate
    ([gates.STAGE] in pipl.toml: QA, wheel, processing, approvals) is checked first.
    Without --to, the release goes one stage further than the furthest stage holding it.
    The dashboard and the API list what moved at once. The API's promotion
    (pipl.Client.promote) does the same, with the same errors.

    \b
    Examples:
      pipl proj index push shot-010 0.2.0
      pipl proj index push shot-010 0.2.0 --to qa
      pipl proj index push shot-010 0.2.0 --to qa --with-deps --dry-run
      pipl proj index push shot-010 0.2.0 --from dev --to prod --skip-stage
    """
    from pipl.ci.promotion import Asked, promote

    project = state.project()
    asked = [Asked(project_name, version, target, source)]
    with state.client() as client:
        [result] = promote(
            project, client, asked, with_deps=with_deps, skip_stage=skip_stage, dry_run=dry_run
        )
    plan, pushed = result.plan, result.pushed
    src, dst = plan.source, plan.target
    moves = plan.moves if with_deps else [plan.release]
    if as_json:
        emit_json(
            "promotion",
            {
                **plan.to_dict(),
                "dry_run": dry_run,
                "with_deps": with_deps,
                "pushed": [
                    {"project": p.project, "version": p.version, "copied": p.copied} for p in pushed
                ],
            },
        )
    else:
        verb = "would push" if dry_run else "pushed"
        for move in moves:
            if not move.files:
                click.echo(f"{move.project} {move.version}: already on {dst}")
                continue
            why = f" (for {move.required_by}: {move.requirement})" if move.required_by else ""
            click.echo(
                f"{verb} {move.project} {move.version}: {move.holder} -> {dst}{why}: "
                + ", ".join(sorted(move.files))
            )
        for missing in plan.missing:
            if with_deps and missing.available:
                continue  # pushed with it
            where = f"{missing.available} on {src}" if missing.available else f"not on {src} either"
            if missing.confusion:
                where = f"{missing.confusion}; {where}"
            click.echo(f"missing on {dst}: {missing}; {where}")
    if dry_run:
        refused = plan.refusal(with_deps=with_deps)
        if refused is not None:
            raise refused


@index.command()
@click.argument("project_name", metavar="PROJECT")
@click.option("--add", "add", multiple=True, metavar="USER", help="Make USER a maintainer.")
@click.option("--remove", "remove", multiple=True, metavar="USER", help="Remove a maintainer.")
@click.option("--stage", help="Stage or index (default: the first stage).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def maintainers(
    state: AppState,
    project_name: str,
    add: tuple[str, ...],
    remove: tuple[str, ...],
    stage: str | None,
    as_json: bool,
) -> None:
    """List or change who maintains PROJECT on a stage.

    A project belongs to whoever first uploaded it to the stage, plus the stage's owner
    and root; the server lets only them upload to it, push it there and delete its files,
    whatever the client. Maintainers add or remove others.

    \b
    Examples:
      pipl proj index maintainers shot-010
      pipl proj index maintainers shot-010 --add bob --stage dev
      pipl proj index maintainers shot-010 --remove bob --json
    """
    from pipl.index.maintainers import change_maintainers, get_maintainers

    index = state.index_name(stage) if stage else state.project().stage_index()
    with state.client() as client:
        if add or remove:
            result = change_maintainers(client, index, project_name, add=add, remove=remove)
        else:
            result = get_maintainers(client, index, project_name)
    if as_json:
        emit_json("maintainers", result.to_dict())
        return
    listed = ", ".join(result.maintainers) or "nobody yet (the first uploader claims it)"
    click.echo(f"{result.project} on {result.index}: {listed}")
    click.echo(f"and, for every project of {result.index}: {', '.join(result.implicit)}")


def _register_lifecycle() -> None:
    from pipl.cli.proj_flow import flow_group
    from pipl.cli.proj_lifecycle import derived, names_group, yank

    index.add_command(yank)
    index.add_command(derived)
    index.add_command(names_group)
    index.add_command(flow_group)


_register_lifecycle()
