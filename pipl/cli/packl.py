"""``pipl packl``: create, inspect, edit, build and publish packls in a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipl.cli.output import emit_json, table
from pipl.cli.state import AppState, pass_state
from pipl.cli.work import workspace_option

if TYPE_CHECKING:
    from pipl.project.project import Project
    from pipl.workspace.workspace import Workspace

packl_option = click.option(
    "-p",
    "--packl",
    "packl_name",
    metavar="NAME",
    help="The packl to act on (default: the one you are in, or the workspace's only one).",
)


def _context(state: AppState, workspace: str | None) -> tuple[Project, Workspace]:
    from pipl.workspace.workspace import find_workspace

    project = state.project()
    return project, find_workspace(project, workspace)


@click.group()
def packl() -> None:
    """Packls: packages generated from templates, published to the project index.

    \b
    Kinds: lib, task, product, asset, segment, pipeline, envset.
    Typical flow:
      pipl packl create shotlib --kind lib
      pipl packl add numpy --packl shotlib
      pipl packl bump minor --packl shotlib
      pipl packl publish --packl shotlib
    """


@packl.command()
@click.argument("name")
@click.option(
    "--kind", required=True, help="lib, task, product, asset, segment, pipeline or envset."
)
@click.option("--description", help="One line saying what the packl is for.")
@workspace_option
@pass_state
def create(
    state: AppState, name: str, kind: str, description: str | None, workspace: str | None
) -> None:
    """Create packl NAME of KIND in the workspace, installed in editable mode.

    \b
    Examples:
      pipl packl create shotlib --kind lib -w anim
      pipl packl create shot-010 --kind task --description "Shot 010 animation"
    """
    from pipl.packl.create import create_packl

    project, ws = _context(state, workspace)
    with state.client("anonymous") as client:
        new = create_packl(project, ws, name, kind, description=description, client=client)
    click.echo(f"Created {kind} packl {new.name!r} at {new.path} (installed editable)")


@packl.command("list")
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def list_packls(state: AppState, workspace: str | None, as_json: bool) -> None:
    """List the packls of the workspace.

    \b
    Example:
      pipl packl list -w anim --json
    """
    from pipl.errors import PacklError
    from pipl.packl.packl import list_packls as do_list

    _, ws = _context(state, workspace)
    rows: list[dict[str, str | None]] = []
    for p in do_list(ws):
        row: dict[str, str | None] = {
            "name": p.name,
            "version": None,
            "kind": None,
            "path": str(p.path),
            "error": None,
        }
        try:
            pp = p.pyproject
            row.update(name=pp.name, version=pp.version, kind=pp.kind)
        except PacklError as exc:  # one broken packl must not hide the others
            row["error"] = str(exc)
        rows.append(row)
    if as_json:
        emit_json("packls", rows)
        return
    if not rows:
        click.echo(f"No packls in workspace {ws.name!r}: pipl packl create NAME --kind KIND")
    table(
        [
            (r["name"], r["version"], r["kind"] or "BROKEN: pipl packl show -p NAME", r["path"])
            for r in rows
        ],
        ["PACKL", "VERSION", "KIND", "PATH"],
    )


@packl.command()
@packl_option
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def show(state: AppState, packl_name: str | None, workspace: str | None, as_json: bool) -> None:
    """Show a packl: version, kind, dependencies, entry points and edit history.

    \b
    Examples:
      pipl packl show --packl shot-010 -w anim
      pipl packl show --json          # inside a packl's folder
    """
    from pipl import names
    from pipl.packl.packl import find_packl

    _, ws = _context(state, workspace)
    p = find_packl(ws, packl_name)
    pp = p.pyproject
    installed = ws.distributions().get(names.normalize_dist(pp.name))
    data = {
        "name": pp.name,
        "version": pp.version,
        "kind": pp.kind,
        "path": str(p.path),
        "description": str(pp.project.get("description", "")),
        "dependencies": pp.dependencies,
        "optional_dependencies": pp.optional_dependencies,
        "entry_points": pp.entry_points,
        "history": pp.history,
        "installed": installed.version if installed else None,
    }
    if as_json:
        emit_json("packl", data)
        return
    click.echo(f"{data['name']} {data['version']}  ({data['kind']})  {data['path']}")
    click.echo(f"  {data['description']}")
    click.echo(f"  installed in {ws.name}: {data['installed'] or 'no'}")
    click.echo(f"  dependencies: {', '.join(pp.dependencies) or '-'}")
    for extra, deps in pp.optional_dependencies.items():
        click.echo(f"  extra [{extra}]: {', '.join(deps)}")
    for group, eps in pp.entry_points.items():
        for ep_name, target in eps.items():
            click.echo(f"  entry point {group}: {ep_name} = {target}")
    click.echo("  history:")
    for entry in pp.history:
        click.echo(
            f"    {entry.get('at')}  {entry.get('by')}  {entry.get('action')}  "
            f"{entry.get('detail')}"
        )


@packl.command()
@click.argument("requirement")
@click.option("--extra", help="Record it under this extra (optional-dependencies).")
@click.option(
    "--editable",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Install from this source folder in editable mode (shared, not copied).",
)
@packl_option
@workspace_option
@pass_state
def add(
    state: AppState,
    requirement: str,
    extra: str | None,
    editable: Path | None,
    packl_name: str | None,
    workspace: str | None,
) -> None:
    """Install REQUIREMENT from the project index and record it in the packl.

    \b
    Examples:
      pipl packl add "shotlib>=1.2"
      pipl packl add maya-tools --extra edit
      pipl packl add mylib --editable ~/src/mylib
    """
    from pipl.packl import deps
    from pipl.packl.packl import find_packl

    project, ws = _context(state, workspace)
    change = deps.add(
        project, ws, find_packl(ws, packl_name), requirement, extra=extra, editable=editable
    )
    where = f" (extra {change.extra})" if change.extra else ""
    click.echo(f"{change.packl}: {change.action} {change.requirement}{where}")


@packl.command()
@click.argument("requirement")
@click.option("--extra", help="Remove it from this extra.")
@packl_option
@workspace_option
@pass_state
def remove(
    state: AppState,
    requirement: str,
    extra: str | None,
    packl_name: str | None,
    workspace: str | None,
) -> None:
    """Remove a dependency from the packl (and uninstall it if nothing else needs it).

    \b
    Example:
      pipl packl remove shotlib --packl shot-010 -w anim
    """
    from pipl.packl import deps
    from pipl.packl.packl import find_packl

    project, ws = _context(state, workspace)
    change = deps.remove(project, ws, find_packl(ws, packl_name), requirement, extra=extra)
    tail = ", uninstalled" if change.uninstalled else ", still installed (needed elsewhere)"
    click.echo(f"{change.packl}: removed {change.requirement}{tail}")


@packl.command()
@click.argument("part", type=click.Choice(["major", "minor", "patch", "pre", "post", "dev"]))
@click.option(
    "--label",
    type=click.Choice(["a", "b", "rc"]),
    help="Pre-release label for 'pre' (default: keep the current one, or 'a').",
)
@packl_option
@workspace_option
@pass_state
def bump(
    state: AppState, part: str, label: str | None, packl_name: str | None, workspace: str | None
) -> None:
    """Bump the packl's version (always a valid PEP 440 version) and reinstall it.

    All or nothing: when the reinstall fails (the project's server is down, say), the
    version and the history stay as they were; run the same bump again later.

    \b
    Examples:
      pipl packl bump minor --packl shot-010      # 0.1.0 -> 0.2.0
      pipl packl bump pre --label rc -p shot-010  # 0.2.0 -> 0.2.1rc0
    """
    from pipl.packl.packl import find_packl
    from pipl.packl.version import bump_packl

    project, ws = _context(state, workspace)
    target = find_packl(ws, packl_name)
    old, new = bump_packl(project, ws, target, part, label=label)
    click.echo(f"{target.name}: {old} -> {new}")


@packl.command()
@packl_option
@workspace_option
@pass_state
def build(state: AppState, packl_name: str | None, workspace: str | None) -> None:
    """Build the packl's sdist and wheel into its dist/ folder (through uv).

    The files reach dist/ once both are whole: a failed or interrupted build (Ctrl-C,
    exit 130) leaves no partial archive there.

    \b
    Example:
      pipl packl build --packl shotlib -w anim
    """
    from pipl.packl.build import build as do_build
    from pipl.packl.packl import find_packl

    project, ws = _context(state, workspace)
    built = do_build(project, ws, find_packl(ws, packl_name))
    for path in built.files:
        click.echo(str(path))
    click.echo(f"Built {built.packl} {built.version} in {built.seconds:.2f}s")


@packl.command()
@packl_option
@click.option("--stage", help="Stage to publish to (default: the workspace's stage).")
@click.option(
    "--replace",
    is_flag=True,
    help="Replace files of this version that have other content (first stage only; "
    "recorded in the packl's history).",
)
@workspace_option
@pass_state
def publish(
    state: AppState,
    packl_name: str | None,
    stage: str | None,
    replace: bool,
    workspace: str | None,
) -> None:
    """Build the packl and upload it to a stage index (identical files are skipped).

    A released file never changes: publishing other content under a version that is
    already on the stage (or a later one) is refused; bump the version first.

    \b
    Examples:
      pipl packl publish --packl shotlib
      pipl packl bump patch -p shotlib && pipl packl publish -p shotlib
      pipl packl publish -p shotlib --replace   # redo a release still only on the first stage
    """
    from pipl.packl.build import publish as do_publish
    from pipl.packl.packl import find_packl

    project, ws = _context(state, workspace)
    with state.client() as client:
        result = do_publish(
            project, ws, find_packl(ws, packl_name), client, stage=stage, replace=replace
        )
    for upload in result.uploads:
        click.echo(f"{upload.filename} -> {result.index}: {upload.action}")
    click.echo(
        f"Published {result.built.packl} {result.built.version} to {result.index} "
        f"(build {result.built.seconds:.2f}s, upload {result.seconds:.2f}s)"
    )


@packl.command("create-task")
@click.argument("task_type")
@packl_option
@workspace_option
@pass_state
def create_task(
    state: AppState, task_type: str, packl_name: str | None, workspace: str | None
) -> None:
    """Turn the packl into a task of TASK_TYPE (`create_task NAME TYPE` in a workspace
    shell does the same).

    Task types come from installed packls (entry points pipl_pipe.task_type).

    \b
    Example:
      pipl packl create-task generic --packl shot-010 -w anim
    """
    from pipl.packl.packl import find_packl
    from pipl.packl.task import create_task as do_create

    project, ws = _context(state, workspace)
    click.echo(do_create(project, ws, find_packl(ws, packl_name), task_type))


@packl.command()
@packl_option
@click.option("--stage", help="Stage to publish the products to (default: the workspace's).")
@click.option("--no-publish", is_flag=True, help="Build the products, do not upload them.")
@workspace_option
@pass_state
def process(
    state: AppState,
    packl_name: str | None,
    stage: str | None,
    no_publish: bool,
    workspace: str | None,
) -> None:
    """Run a task packl's processing in the workspace and publish the products it makes.

    The task is the packl named by --packl (it may also be an installed task that is not
    a source packl of the workspace), or the one you are in.

    What the processing prints goes to stderr; pipl's own report goes to stdout.

    \b
    Example:
      pipl packl process --packl shot-010 --no-publish -w anim
    """
    from pipl.assets.project_store import project_store
    from pipl.packl.packl import find_packl
    from pipl.product.process import run_process

    project, ws = _context(state, workspace)
    task = packl_name or find_packl(ws, None).pyproject.name
    with project_store(project, ws) as store:
        if no_publish:
            result = run_process(project, ws, task, store=store)
        else:
            with state.client() as client:
                result = run_process(project, ws, task, store=store, client=client, stage=stage)
    for product in result.products:
        click.echo(
            f"built {product.packl.name} with {len(product.assets)} asset(s): "
            + ", ".join(f"{a.name} ({a.type}, {a.sha256[:12]})" for a in product.assets)
        )
    for upload in result.uploads:
        click.echo(f"{upload.filename} -> {result.index}: {upload.action}")
