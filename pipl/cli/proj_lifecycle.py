"""``pipl proj index yank``, ``derived`` and ``names``: a release's lifecycle on the
stages, through the API's own operations (``releases.yank``, ``releases.derived``,
``releases.names``, ``releases.names_change``) carried out as this machine's user."""

from __future__ import annotations

import click

from pipl.cli.output import emit_json, table
from pipl.cli.state import AppState, pass_state


@click.command()
@click.argument("project_name", metavar="PROJECT")
@click.argument("version")
@click.option("--stage", required=True, help="Stage (or its index) the release is on.")
@click.option("--reason", default="", help="Why, in one line (shown to installers).")
@click.option("--undo", is_flag=True, help="Restore the release instead.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def yank(
    state: AppState,
    project_name: str,
    version: str,
    stage: str,
    reason: str,
    undo: bool,
    as_json: bool,
) -> None:
    """Yank release PROJECT VERSION on a stage (PEP 592), or restore it with --undo.

    pip and uv then skip its files on that stage (and the stages inheriting from it)
    unless the version is pinned with ==; CI neither promotes nor processes it. Its
    maintainers on the stage, the owner and root may yank.

    \b
    Examples:
      pipl proj index yank shot-010 0.2.0 --stage qa --reason "wrong frame range"
      pipl proj index yank shot-010 0.2.0 --stage qa --undo
    """
    with state.api() as api:
        found = api.releases.yank(stage, project_name, version, yanked=not undo, reason=reason)
    if as_json:
        emit_json("yank", found.__dict__)
        return
    word = "yanked" if found.yanked else "not yanked"
    why = f" ({found.reason})" if found.yanked and found.reason else ""
    click.echo(f"{found.project} {found.version} is {word} on {found.stage}{why}")


@click.command()
@click.argument("project_name", metavar="PROJECT")
@click.argument("version")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def derived(state: AppState, project_name: str, version: str, as_json: bool) -> None:
    """List what was made from release PROJECT VERSION, transitively.

    Products whose manifests pin it, what CI jobs on it published, and so on from those,
    nearest first.

    \b
    Examples:
      pipl proj index derived shot-010 0.2.0
      pipl proj index derived shot-010 0.2.0 --json
    """
    with state.api() as api:
        found = api.releases.derived(project_name, version)
    if as_json:
        emit_json("derived", [d.__dict__ for d in found])
        return
    if not found:
        click.echo(f"nothing was made from {project_name} {version}")
        return
    table(
        [
            (d.project, d.version, d.source, ",".join(d.stages) or "-", ",".join(d.yanked) or "-")
            for d in found
        ],
        ["PROJECT", "VERSION", "MADE FROM", "STAGES", "YANKED ON"],
    )


def remove_release(state: AppState, name: str, version: str, stage: str | None, yes: bool) -> None:
    """``pipl proj index remove PROJECT VERSION``: from the first stage only."""
    from pipl.index import lifecycle

    project = state.project()
    index = state.index_name(stage) if stage else project.stage_index()
    lifecycle.check_removable(project, index, name, version)
    if not yes:
        click.confirm(f"Remove {name} {version} from {index}?", abort=True)
    with state.client() as client:
        lifecycle.remove_release(project, client, index, name, version)
    click.echo(f"Removed {name} {version} from {index}.")


@click.group("names")
def names_group() -> None:
    """Public names (on PyPI or the base index) allowed past the first stage.

    A release whose name PyPI or the base index has, and that no later stage holds yet,
    stays on the first stage until the owner allows the name: otherwise anyone who may
    upload there could shadow a public package inside the project.
    """


@names_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def names_list(state: AppState, as_json: bool) -> None:
    """List the names allowed past the first stage.

    \b
    Examples:
      pipl proj index names list
      pipl proj index names list --json
    """
    with state.api() as api:
        found = api.releases.names()
    if as_json:
        emit_json("allowed-names", found.__dict__)
        return
    listed = ", ".join(found.names) or "none"
    click.echo(f"allowed past {found.index}: {listed}")


def _change_name(state: AppState, name: str, *, allowed: bool) -> None:
    with state.api() as api:
        found = api.releases.change_names(name, allowed=allowed)
    word = "allowed" if allowed else "no longer allowed"
    click.echo(f"{name} is {word} past {found.index}")
    if found.retried:
        jobs = ", ".join(str(j) for j in found.retried)
        click.echo(f"queued again: promote job(s) {jobs}")


@names_group.command("allow")
@click.argument("name")
@pass_state
def names_allow(state: AppState, name: str) -> None:
    """Let releases named NAME leave the first stage (the owner or root).

    The promote jobs the name held are queued again.

    \b
    Example:
      pipl proj index names allow tomlkit
    """
    _change_name(state, name, allowed=True)


@names_group.command("disallow")
@click.argument("name")
@pass_state
def names_disallow(state: AppState, name: str) -> None:
    """Hold releases named NAME on the first stage again (the owner or root).

    \b
    Example:
      pipl proj index names disallow tomlkit
    """
    _change_name(state, name, allowed=False)
