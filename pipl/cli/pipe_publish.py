"""``pipl pipe publish``, ``track`` and ``untrack``: a pipeline's data beyond its
workspace, as a product packl on the index or browsed on the project's dashboard."""

from __future__ import annotations

from pathlib import Path

import click

from pipl.cli.output import emit_json
from pipl.cli.pipe_options import json_option, load, pipeline_option, prefix_option
from pipl.cli.state import AppState, pass_state


@click.command()
@click.argument("segment")
@pipeline_option
@prefix_option
@click.option("--name", help="The product's name (default: PIPELINE-SEGMENT).")
@click.option("--stage", help="The stage to publish to (default: the first, e.g. dev).")
@json_option
@pass_state
def publish(
    state: AppState,
    segment: str,
    folder: Path,
    prefix: Path | None,
    name: str | None,
    stage: str | None,
    as_json: bool,
) -> None:
    """Publish a segment's outputs as a product packl whose version derives from its key.

    Publishing a key that is already on the index does nothing. The product pins the
    pipeline packl's version and the segment packls its inputs came from, with their
    files' sha256 on the index (a release not on the index is left out, with a warning).

    \b
    Example:
      pipl pipe publish summary -P examples/knights
      pipl pipe publish convol --name fft-filtered --stage qa
    """
    from pipl.assets.project_store import project_store
    from pipl.pipe.publish import publish_segment

    project = state.project()
    index = project.stage_index(stage) if stage else project.stage_index()
    with state.client() as client:
        done = publish_segment(
            load(folder, prefix),
            segment,
            client=client,
            index=index,
            store=project_store(project),
            index_url=project.simple_url(index),
            name=name,
        )
    for pin in done.unpinned:
        click.echo(
            f"warning: {pin} is not on {index}: the product does not record it as a source "
            "(publish it first)",
            err=True,
        )
    if as_json:
        emit_json(
            "pipe-publish",
            {
                "name": done.name,
                "version": done.version,
                "key": done.key,
                "index": done.index,
                "already": done.already,
                "unpinned": done.unpinned,
            },
        )
    elif done.already:
        click.echo(f"{done.name} {done.version} (key {done.key}) is already on {done.index}")
    else:
        click.echo(f"published {done.name} {done.version} (key {done.key}) to {done.index}")


@click.command()
@pipeline_option
@prefix_option
@click.option("--name", help="The name the dashboard shows (default: the pipeline's name).")
@pass_state
def track(state: AppState, folder: Path, prefix: Path | None, name: str | None) -> None:
    """Show a pipeline run here with 'pipl pipe run' on the project's dashboard.

    The dashboard shows CI's pipelines; this adds the data prefix of a pipeline run in a
    workspace to the project's list (PROJECT/.pipl/pipe-tracked.json), so the project's
    users browse it beside them: its graph, instances, code and comparisons. The data
    stays where it is; run the pipeline again here, not from the dashboard. Tracking the
    same prefix again changes nothing.

    \b
    Example:
      pipl pipe track -P examples/knights
      pipl pipe track --prefix /scratch/cmb-data --name cmb-scratch
    """
    import getpass

    from pipl.pipe.store import pipe_data
    from pipl.pipe.track import track as add

    project = state.project()
    if prefix is None or name is None:
        pipeline = load(folder, prefix)
        prefix, name = pipeline.prefix, name or pipeline.name
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid
        user = ""
    entry = add(project.state_dir, name, prefix, by=user, ci=pipe_data(project))
    click.echo(f"tracking {entry.name}: {entry.prefix} (see /pipelines on the dashboard)")


@click.command()
@click.argument("name")
@pass_state
def untrack(state: AppState, name: str) -> None:
    """Take a tracked pipeline off the project's dashboard (its data stays).

    \b
    Example:
      pipl pipe untrack knights
    """
    from pipl.pipe.track import untrack as remove

    entry = remove(state.project().state_dir, name)
    click.echo(f"untracked {entry.name} (its data stays in {entry.prefix})")
