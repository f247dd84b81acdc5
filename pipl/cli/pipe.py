"""``pipl pipe``: run a pipeline packl's segment DAG and look after its data.

Here: the group and the commands that read or tidy a pipeline's data (status, cancel,
graph, push, clean, rebuild-db); ``run`` is in ``pipl.cli.pipe_run``, ``publish``,
``track`` and ``untrack`` in ``pipl.cli.pipe_publish``, the shared options in
``pipl.cli.pipe_options``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from pipl.cli.output import emit_json, table
from pipl.cli.pipe_options import json_option, load, pipeline_option, prefix_option


@click.group()
def pipe() -> None:
    """Pipelines: Pipelet-style segment DAGs whose outputs are kept under a key.

    A pipeline packl declares PIPELINE (edges like 'a -> b; c -> b;') and segment
    scripts in MODULE/segments/NAME.py (or segment packls). Each segment's data is kept
    in PREFIX/NAME_KEY/data/INSTANCE/; a run computes only what changed.
    """


@pipe.command()
@pipeline_option
@prefix_option
@json_option
def status(folder: Path, prefix: Path | None, as_json: bool) -> None:
    """Instances done and failed under each segment's current key, and the last runs.

    \b
    Example:
      pipl pipe status -P examples/knights
    """
    from pipl.pipe.manage import status as get_status

    rows, runs = get_status(load(folder, prefix))
    if as_json:
        emit_json(
            "pipe-status",
            {
                "segments": [
                    {
                        "segment": r.name,
                        "key": r.key,
                        "done": r.done,
                        "failed": r.failed,
                        "path": str(r.root),
                        "failures": [{"instance": n, "error": e} for n, e in r.failures],
                    }
                    for r in rows
                ],
                "runs": runs,
            },
        )
        return
    table(
        [[r.name, r.key, r.done, r.failed, r.root] for r in rows],
        ["segment", "key", "done", "failed", "path"],
    )
    for r in rows:
        for name, error in r.failures:
            click.echo(f"failed: {r.name}/{name}: {error}")
    if runs:
        last = runs[0]
        click.echo(
            f"last run {last['id']} ({last['executor']}): {last['status']}, "
            f"{last['ran']} ran, {last['reused']} reused, {last['failed']} failed"
        )


@pipe.command()
@pipeline_option
@prefix_option
@click.option("--run", "run_id", type=int, help="The run to cancel (default: the one running).")
@click.option("--no-wait", is_flag=True, help="Return once asked; do not wait for the stop.")
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(min=0),
    default=60,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the run to stop.",
)
def cancel(
    folder: Path, prefix: Path | None, run_id: int | None, no_wait: bool, wait_seconds: float
) -> None:
    """Cancel the pipeline's running run (from another terminal than the run's).

    Instances that finished stay done; running ones are stopped (their worker
    processes killed); the run is recorded as cancelled and its 'pipl pipe run'
    exits non-zero. A run queued from the dashboard is cancelled before it starts.

    \b
    Example:
      pipl pipe cancel -P examples/knights
      pipl pipe cancel --run 12 --no-wait
    """
    from pipl.errors import PipelineError
    from pipl.pipe.control import ACTIVE, request_cancel, wait_ended

    data = load(folder, prefix).prefix
    row = request_cancel(data, run_id)
    if not no_wait and row["status"] in ACTIVE:
        row = wait_ended(data, int(row["id"]), wait_seconds)
        if row["status"] in ACTIVE:
            raise PipelineError(
                f"run {row['id']} did not stop within {wait_seconds:g}s (status "
                f"{row['status']}): see pipl pipe status, or wait longer with --wait"
            )
    click.echo(
        f"run {row['id']}: {row['status']} ({row['ran']} ran, {row['reused']} reused, "
        f"{row['failed']} failed; finished instances are kept)"
    )


@pipe.command()
@pipeline_option
@click.option(
    "--format", "fmt", type=click.Choice(["dot", "svg", "png"]), default="dot", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: stdout for dot).",
)
def graph(folder: Path, fmt: str, output: Path | None) -> None:
    """The pipeline's DAG in dot, or drawn as svg/png (needs graphviz's dot).

    \b
    Example:
      pipl pipe graph -P examples/knights
      pipl pipe graph --format svg -o pipeline.svg
    """
    from pipl.errors import UsageError
    from pipl.fsutil import atomic_write
    from pipl.pipe.manage import graph as draw

    data = draw(load(folder, None), fmt)
    if output is not None:
        atomic_write(output, data)
    elif fmt == "dot":
        click.echo(data.decode(), nl=False)
    else:
        raise UsageError(f"--format {fmt} writes a file: give -o FILE")


@pipe.command()
@click.argument("segment")
@click.argument("values", nargs=-1, required=True)
@pipeline_option
@prefix_option
@click.option(
    "--json-values",
    is_flag=True,
    help='Read each VALUE as JSON (numbers, lists); {"$tuple": [...]} is a tuple.',
)
@click.option("--replace", is_flag=True, help="Replace the stored inputs instead of adding.")
def push(
    segment: str,
    values: tuple[str, ...],
    folder: Path,
    prefix: Path | None,
    json_values: bool,
    replace: bool,
) -> None:
    """Give an orphan segment inputs (kept under the prefix): one instance per value.

    Values keep their type in PREFIX/push.json. A list and a tuple of the same items are
    one input: pushing [64, 1] where the pipeline's PUSH has (64, 1) makes no new
    instance, and the segment gets the tuple. A value pushed only from here is a list,
    unless written {"$tuple": [64, 1]}.

    \b
    Example:
      pipl pipe push knights Robin Bedevere
      pipl pipe push --json-values cmb '[64, 1]' '[64, 2]'
      pipl pipe push --json-values cmb '{"$tuple": [64, 3]}'
    """
    from pipl.errors import UsageError
    from pipl.pipe import store_push
    from pipl.pipe.parse import parse
    from pipl.pipe.pipeline import decode_value

    pipeline = load(folder, prefix)
    dag = parse(pipeline.dot)
    if segment not in dag.segments:
        raise UsageError(f"no segment {segment!r} in {pipeline.name} ({', '.join(dag.segments)})")
    if dag.parents(segment):
        raise UsageError(
            f"segment {segment} has parents ({', '.join(dag.parents(segment))}): only "
            "orphan segments take pushed inputs"
        )
    try:
        parsed = [decode_value(json.loads(v)) for v in values] if json_values else list(values)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--json-values: {exc.doc!r} is not JSON ({exc.msg})") from None
    count = store_push(pipeline.prefix, segment, parsed, replace=replace)
    click.echo(f"{segment}: {count} pushed input(s); run 'pipl pipe run' to compute them")


@pipe.command()
@pipeline_option
@prefix_option
@click.option("--all", "everything", is_flag=True, help="Remove all stored data.")
def clean(folder: Path, prefix: Path | None, everything: bool) -> None:
    """Remove data of keys the pipeline no longer uses (old code or parameters).

    \b
    Example:
      pipl pipe clean
      pipl pipe clean --all
    """
    from pipl.pipe.manage import clean as do_clean

    removed = do_clean(load(folder, prefix), everything=everything)
    for path in removed:
        click.echo(f"removed {path}")
    click.echo(f"{len(removed)} segment folder(s) removed")


@pipe.command("rebuild-db")
@pipeline_option
@prefix_option
def rebuild_db(folder: Path, prefix: Path | None) -> None:
    """Make the tracking database again from the data folders.

    \b
    Example:
      pipl pipe rebuild-db -P examples/knights
    """
    from pipl.pipe.db import rebuild

    pipeline = load(folder, prefix)
    found = rebuild(pipeline.prefix)
    click.echo(f"{found['segments']} segment(s), {found['instances']} instance(s) recorded")


def _register_commands() -> None:
    from pipl.cli.pipe_publish import publish, track, untrack
    from pipl.cli.pipe_run import run_cmd

    for command in (run_cmd, publish, track, untrack):
        pipe.add_command(command)


_register_commands()
