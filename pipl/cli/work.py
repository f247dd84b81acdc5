"""``pipl work``: workareas and workspaces (uv virtualenvs on the project index)."""

from __future__ import annotations

from pathlib import Path

import click

from pipl.cli.output import emit_json, table
from pipl.cli.state import AppState, pass_state

workspace_option = click.option(
    "-w",
    "--workspace",
    "workspace",
    metavar="NAME",
    help="Workspace NAME or AREA/NAME (default: $PIPL_WORKSPACE, or the one you are in).",
)


@click.group()
def work() -> None:
    """Workspaces: virtualenvs that install packls from the project index.

    \b
    Typical session:
      pipl work create anim
      pipl packl create shot-010 --kind task -w anim
      pipl work shell anim
    """


@work.command("create-area")
@click.argument("name")
@click.option(
    "--path",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the workarea lives (default: PROJECT/workareas/NAME).",
)
@pass_state
def create_area(state: AppState, name: str, path: Path | None) -> None:
    """Create workarea NAME, a folder holding workspaces ('default' always exists).

    \b
    Example:
      pipl work create-area shots --path /studio/work/shots
      pipl work create sh010 --area shots
    """
    from pipl.workspace.area import create_area as do_create

    area = do_create(state.project(), name, path)
    click.echo(f"Created workarea {area.name!r} at {area.path}")


@work.command()
@click.argument("name")
@click.option("--area", help="Workarea (default: 'default').")
@click.option("--stage", help="Stage index to install from (default: the first stage).")
@click.option("--python", help="Python interpreter for the virtualenv (default: pipl's).")
@click.option(
    "--with",
    "requirements",
    multiple=True,
    metavar="REQ",
    help="Install REQ from the project index right away (repeatable).",
)
@pass_state
def create(
    state: AppState,
    name: str,
    area: str | None,
    stage: str | None,
    python: str | None,
    requirements: tuple[str, ...],
) -> None:
    """Create workspace NAME: a uv virtualenv installing from the project index.

    \b
    Examples:
      pipl work create anim
      pipl work create lookdev --stage qa --with "shotlib>=0.2"
    """
    import time

    from pipl.workspace.workspace import create_workspace

    project = state.project()
    started = time.perf_counter()
    ws = create_workspace(
        project, name, area=area, stage=stage, python=python, requirements=requirements
    )
    took = time.perf_counter() - started
    click.echo(f"Created workspace {ws.area}/{ws.name} at {ws.path} ({took:.2f}s)")
    click.echo(f"  installs from: {ws.index_url(project)}")
    click.echo(f"  enter it:      pipl work shell {ws.name}")


@work.command("list")
@click.option("--area", help="Only this workarea.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def list_workspaces(state: AppState, area: str | None, as_json: bool) -> None:
    """List workspaces and their packls; broken ones are listed with what is wrong.

    \b
    Example:
      pipl work list --area default --json
    """
    from pipl.errors import WorkspaceError
    from pipl.packl.packl import list_packls
    from pipl.workspace.workspace import scan_workspaces

    found, broken = scan_workspaces(state.project(), area)
    rows = []
    for ws in found:
        try:
            ws.check_venv()
            error = None
        except WorkspaceError as exc:
            error = str(exc)
        rows.append(
            {
                "name": ws.name,
                "area": ws.area,
                "stage": ws.stage,
                "path": str(ws.path),
                "packls": [p.name for p in list_packls(ws)],
                "created": ws.created,
                "created_by": ws.created_by,
                "error": error,
            }
        )
    for bad in broken:
        rows.append(
            {
                "name": bad.name,
                "area": bad.area,
                "stage": None,
                "path": str(bad.path),
                "packls": [],
                "created": None,
                "created_by": None,
                "error": bad.error,
            }
        )
    rows.sort(key=lambda r: (str(r["area"]), str(r["name"])))
    if as_json:
        emit_json("workspaces", rows)
        return
    if not rows:
        click.echo("No workspaces yet: pipl work create NAME")
    table(
        [
            (
                r["area"],
                r["name"],
                r["stage"],
                r["packls"],
                "BROKEN" if r["error"] else "ok",
                r["path"],
            )
            for r in rows
        ],
        ["AREA", "WORKSPACE", "STAGE", "PACKLS", "STATE", "PATH"],
    )
    for r in rows:
        if r["error"]:
            click.echo(f"{r['area']}/{r['name']}: {r['error']}", err=True)


@work.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def remove(state: AppState, name: str, yes: bool) -> None:
    """Remove workspace NAME, its virtualenv and the packl sources inside it.

    \b
    Example:
      pipl work remove anim --yes
    """
    from pipl.packl.packl import list_packls
    from pipl.workspace.workspace import find_workspace, remove_workspace

    ws = find_workspace(state.project(), name)
    packls = [p.name for p in list_packls(ws)]
    if not yes:
        held = f" and the sources of {', '.join(packls)}" if packls else ""
        click.confirm(f"Remove workspace {ws.area}/{ws.name}{held}?", abort=True)
    remove_workspace(ws)
    click.echo(f"Removed workspace {ws.area}/{ws.name}.")


@work.command()
@click.argument("name")
@click.option("--python", help="Interpreter for the new virtualenv (default: as at creation).")
@pass_state
def repair(state: AppState, name: str, python: str | None) -> None:
    """Rebuild workspace NAME's virtualenv and reinstall its packls; the sources stay.

    Use it when the virtualenv is gone or broken (deleted, or its Python moved). The
    packls in the workspace are installed editable again (with the 'edit' extra), and so
    are the '--with' requirements it was created with. If a step fails, the old
    virtualenv is put back.

    \b
    Example:
      pipl work repair anim
    """
    from pipl.workspace.repair import repair_workspace
    from pipl.workspace.workspace import find_workspace

    project = state.project()
    ws = find_workspace(project, name)
    result = repair_workspace(
        project, ws, python=python, progress=lambda step: click.echo(f"... {step}", err=True)
    )
    for packl, reason in result.skipped.items():
        click.echo(f"skipped {packl}: {reason}", err=True)
    installed = ", ".join(result.packls + result.editables) or "no packls"
    click.echo(f"Repaired workspace {result.workspace} ({result.seconds:.2f}s): {installed}")


@work.command()
@click.argument("name", required=False)
@pass_state
def shell(state: AppState, name: str | None) -> None:
    """Open your shell inside workspace NAME (its commands on PATH); exit to leave.

    \b
    Example:
      pipl work shell anim
    """
    from pipl.workspace.shell import spawn_shell
    from pipl.workspace.workspace import find_workspace

    project = state.project()
    ws = find_workspace(project, name)
    click.echo(
        f"Entering workspace {ws.area}/{ws.name} of {project.name} (exit to leave)", err=True
    )
    raise SystemExit(spawn_shell(project, ws))


@work.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@workspace_option
@click.argument("argv", nargs=-1, type=click.UNPROCESSED, required=True)
@pass_state
def run(state: AppState, workspace: str | None, argv: tuple[str, ...]) -> None:
    """Run a command inside a workspace: pipl work run [-w NAME] -- CMD [ARGS]...

    \b
    Examples:
      pipl work run -w anim -- shot-010-info
      pipl work run -w anim -- python -c "import shotlib"
    """
    from pipl.workspace.shell import run_in
    from pipl.workspace.workspace import find_workspace

    project = state.project()
    raise SystemExit(run_in(project, find_workspace(project, workspace), list(argv)))


@work.command()
@click.argument("source")
@click.argument("new")
@click.option("--area", help="Workarea of the copy (default: the source's).")
@pass_state
def clone(state: AppState, source: str, new: str, area: str | None) -> None:
    """Copy workspace SOURCE as NEW: same package versions, its packls copied.

    \b
    Example:
      pipl work clone anim anim-fix
    """
    import time

    from pipl.workspace.workspace import clone_workspace, find_workspace

    project = state.project()
    started = time.perf_counter()
    ws = clone_workspace(project, find_workspace(project, source), new, area=area)
    click.echo(f"Cloned {source} as {ws.area}/{ws.name} ({time.perf_counter() - started:.2f}s)")


@work.command()
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def commands(state: AppState, workspace: str | None, as_json: bool) -> None:
    """List the commands installed packls offer (entry points 'pipl.commands').

    \b
    Example:
      pipl work commands -w anim --json
    """
    from pipl.workspace.shell import commands as list_commands
    from pipl.workspace.workspace import find_workspace

    ws = find_workspace(state.project(), workspace)
    found = list_commands(ws)
    if as_json:
        emit_json("commands", [c.__dict__ for c in found])
        return
    if not found:
        click.echo(f"No packl commands in workspace {ws.name!r}.")
    table(
        [(c.name, c.packl, c.version, c.target, c.installed) for c in found],
        ["COMMAND", "PACKL", "VERSION", "TARGET", "ON PATH"],
    )


@work.command()
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def env(state: AppState, workspace: str | None, as_json: bool) -> None:
    """Show what the packls' envsets set in the workspace, in the order they apply.

    \b
    Example:
      pipl work env -w cg
    """
    from pipl.workspace.inside import envsets
    from pipl.workspace.shell import workspace_env
    from pipl.workspace.workspace import find_workspace

    project = state.project()
    ws = find_workspace(project, workspace)
    resolution = envsets(project, ws, workspace_env(project, ws))
    if as_json:
        emit_json("envsets", resolution)
        return
    if not resolution["changes"]:
        click.echo(f"No envsets in workspace {ws.name!r}.")
    click.echo(f"order: {' -> '.join(resolution['order']) or '-'}")
    table(
        [
            (c["var"], c["action"], c["value"], c["packl"], c["note"] or None)
            for c in resolution["changes"]
        ],
        ["VARIABLE", "ACTION", "VALUE", "PACKL", "NOTE"],
    )
    for conflict in resolution["conflicts"]:
        click.echo(f"conflict: {conflict}", err=True)


@work.command("fetch-assets")
@workspace_option
@pass_state
def fetch_assets(state: AppState, workspace: str | None) -> None:
    """Copy every asset of the workspace's products into it (verified), for offline work.

    \b
    Example:
      pipl work fetch-assets -w anim
    """
    from pipl.workspace.inside import ask
    from pipl.workspace.shell import workspace_env
    from pipl.workspace.workspace import find_workspace

    project = state.project()
    ws = find_workspace(project, workspace)
    rows = ask(ws, "pipl_pipe.products", ["fetch"], workspace_env(project, ws))
    for row in rows:
        click.echo(f"{row['product']}.{row['asset']}: {row['path']}")
    click.echo(f"{len(rows)} assets in {ws.path / 'assets'}")
