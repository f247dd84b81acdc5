"""``pipl pipe``: run a pipeline packl's segment DAG and look after its data."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipl.cli.output import emit_json, table
from pipl.cli.state import AppState, pass_state

if TYPE_CHECKING:
    from pipl.pipe import Pipeline, RunReport, SegmentPlan

pipeline_option = click.option(
    "-P",
    "--pipeline",
    "folder",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The pipeline packl's folder.",
)
prefix_option = click.option(
    "--prefix",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="PIPL_PIPE_PREFIX",
    help="Where data is stored (default: PIPELINE/pipe-data; env PIPL_PIPE_PREFIX).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def _load(folder: Path, prefix: Path | None) -> Pipeline:
    from pipl.pipe import load_pipeline

    return load_pipeline(folder.resolve(), prefix.resolve() if prefix else None)


@click.group()
def pipe() -> None:
    """Pipelines: Pipelet-style segment DAGs whose outputs are kept under a key.

    A pipeline packl declares PIPELINE (edges like 'a -> b; c -> b;') and segment
    scripts in MODULE/segments/NAME.py (or segment packls). Each segment's data is kept
    in PREFIX/NAME_KEY/data/INSTANCE/; a run computes only what changed.
    """


class _Bars:
    """One progress bar per segment, on stderr."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.name = ""
        self.bar: Any = None
        self.shown = 0

    def __call__(self, name: str, done: int, total: int) -> None:
        if self.quiet:
            return
        if name != self.name:
            self.close()
            self.name = name
            self.bar = click.progressbar(
                length=max(total, 1), label=f"{name:12}", file=sys.stderr, show_pos=True
            )
            self.bar.__enter__()
            self.shown = 0
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _report_rows(report: RunReport) -> list[dict[str, Any]]:
    return [
        {
            "segment": s.name,
            "key": s.key,
            "instances": s.total,
            "reused": s.reused,
            "ran": s.ran,
            "failed": s.failed,
            "retried": s.retried,
            "blocked": s.blocked,
            "skipped": s.skipped,
            "forced": s.forced,
            "failures": [{"instance": n, "error": e, "log": str(log)} for n, e, log in s.failures],
            "path": str(s.root),
        }
        for s in report.segments
    ]


@pipe.command("run")
@pipeline_option
@prefix_option
@click.option(
    "--executor",
    type=click.Choice(["local", "interactive", "dask"]),
    default="local",
    show_default=True,
    help="local: worker processes; interactive: this process (pdb); dask: a Dask cluster.",
)
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Workers (default: CPUs).")
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler (default: a local one).")
@click.option(
    "-n",
    "--dry-run",
    is_flag=True,
    help="Say what would run and why (which input of a key changed); compute nothing.",
)
@click.option("--until", metavar="SEG", help="Run SEG and what it needs, nothing after it.")
@click.option(
    "--only",
    metavar="SEG[,SEG]",
    multiple=True,
    help="Run only these segments; their other parents must be done.",
)
@click.option(
    "--force",
    metavar="SEG[,SEG]",
    multiple=True,
    help="Recompute these segments (and what depends on them) though done.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Stop an instance running longer (segments with their own 'timeout' keep it).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars, no retry lines.")
@json_option
def run_cmd(
    folder: Path,
    prefix: Path | None,
    executor: str,
    jobs: int | None,
    scheduler: str | None,
    dry_run: bool,
    until: str | None,
    only: tuple[str, ...],
    force: tuple[str, ...],
    timeout: float | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Run the pipeline: compute the instances not done yet under their keys.

    A segment's key covers its code, hooks, #depend files, params, multiplex directive,
    its parents' keys and its environment's lock; what is done under the current key is
    reused. --dry-run lists, per segment, the instances, how many are reused and how many
    would run, and why: which of those inputs changed since a run last recorded the
    segment, new inputs, instances that failed before. A count marked ~ rests on outputs
    not computed yet (those of the previous key), ? on outputs nothing tells yet. A dry
    run writes nothing.

    Per segment, SEGMENTS in the pipeline's __init__.py may give "retries" (more
    attempts for an instance that failed with an exception listed in "retry_on",
    default ["OSError"]; each retry is reported on stderr and kept in the instance's
    log) and "timeout" (seconds; an instance past it is stopped, its worker process
    killed, and it fails with InstanceTimeout). 'pipl pipe cancel' from another
    terminal stops the run: what finished stays, and this command exits non-zero.

    \b
    Example:
      pipl pipe run -P examples/knights -j 2
      pipl pipe run --dry-run                  # what would run, and why
      pipl pipe run --until melt               # melt and what it needs
      pipl pipe run --only summary             # melt must be done
      pipl pipe run --force melt               # melt and summary again
      pipl pipe run --timeout 600              # no instance runs over 10 minutes
      pipl pipe run --executor interactive     # one process, for pdb
      pipl pipe run --executor dask --scheduler tcp://head:8786
    """
    from pipl.errors import PipelineError
    from pipl.pipe import run

    pipeline = _load(folder, prefix)
    if dry_run:
        _dry_run(pipeline, until, list(only), list(force), as_json)
        return
    bars = _Bars(quiet or as_json)

    def notice(line: str) -> None:
        if not quiet:
            bars.close()
            click.echo(line, err=True)

    try:
        report = run(
            pipeline,
            executor=executor,
            jobs=jobs,
            scheduler=scheduler,
            progress=bars,
            until=until,
            only=list(only),
            force=list(force),
            timeout=timeout,
            notice=notice,
        )
    finally:
        bars.close()
    rows = _report_rows(report)
    if report.status == "cancelled":
        done = sum(s.ran for s in report.segments)
        raise PipelineError(
            f"run {report.run_id} was cancelled: {done} instance(s) ran before it stopped "
            "and are kept; run again to compute the rest"
        )
    if as_json:
        emit_json(
            "pipe-run",
            {
                "ok": report.ok,
                "status": report.status,
                "seconds": report.seconds,
                "dry_run": False,
                "segments": rows,
            },
        )
    else:
        table(
            [
                [r["segment"], r["key"], r["instances"], r["reused"], r["ran"], r["failed"]]
                if not r["skipped"]
                else [r["segment"], r["key"], "-", "-", "-", "-"]
                for r in rows
            ],
            ["segment", "key", "instances", "reused", "ran", "failed"],
        )
        skipped = [r["segment"] for r in rows if r["skipped"]]
        if skipped:
            click.echo(f"not selected: {', '.join(skipped)}")
        click.echo(f"run {report.run_id} ({report.executor}) in {report.seconds:.2f}s")
    if not report.ok:
        failed = sum(s.failed for s in report.segments)
        first = next((s for s in report.segments if s.failures), None)
        blocked = [s.name for s in report.segments if s.blocked]
        detail = ""
        if first is not None:
            name, error, log = first.failures[0]
            detail = f"; first: {first.name}/{name}: {error} (log: {log})"
        if blocked:
            detail += f"; not run: {', '.join(blocked)}"
        raise PipelineError(
            f"{failed} instance(s) failed{detail}; fix the segment and run again "
            "(finished instances are kept)"
        )


def _dry_run(
    pipeline: Pipeline, until: str | None, only: list[str], force: list[str], as_json: bool
) -> None:
    from pipl.pipe import dry_run

    plan = dry_run(pipeline, until=until, only=only, force=force)
    if as_json:
        emit_json(
            "pipe-run",
            {
                "ok": True,
                "status": "dry-run",
                "seconds": 0.0,
                "dry_run": True,
                "to_run": plan.to_run,
                "segments": [
                    {
                        "segment": s.name,
                        "key": s.key,
                        "instances": s.instances,
                        "reused": s.reused,
                        "ran": 0,
                        "failed": 0,
                        "retried": 0,
                        "blocked": "",
                        "failures": [],
                        "path": str(s.root),
                        "skipped": s.skipped,
                        "forced": s.forced,
                        "to_run": s.to_run,
                        "failed_before": s.failed_before,
                        "estimated": s.estimated,
                        "unknown": s.unknown,
                        "previous_key": s.previous_key,
                        "changed": s.changed,
                        "why": s.why,
                    }
                    for s in plan.segments
                ],
            },
        )
        return

    def count(s: SegmentPlan, value: int) -> str:
        return "?" if s.unknown else f"~{value}" if s.estimated else str(value)

    table(
        [
            [s.name, s.key, "-", "-", "-", s.why]
            if s.skipped
            else [s.name, s.key, count(s, s.instances), s.reused, count(s, s.to_run), s.why]
            for s in plan.segments
        ],
        ["segment", "key", "instances", "reused", "to run", "why"],
    )
    shown = [s for s in plan.segments if not s.skipped]
    if any(s.estimated and not s.unknown for s in shown):
        click.echo("~: counted from outputs not computed yet (those of the previous key)")
    if any(s.unknown for s in shown):
        click.echo("?: depends on outputs of instances that have not run yet")
    unknown = " at least" if any(s.unknown for s in shown) else ""
    click.echo(f"dry run:{unknown} {plan.to_run} instance(s) would run; nothing was computed")


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

    rows, runs = get_status(_load(folder, prefix))
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

    data = _load(folder, prefix).prefix
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

    data = draw(_load(folder, None), fmt)
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

    pipeline = _load(folder, prefix)
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

    removed = do_clean(_load(folder, prefix), everything=everything)
    for path in removed:
        click.echo(f"removed {path}")
    click.echo(f"{len(removed)} segment folder(s) removed")


@pipe.command()
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
            _load(folder, prefix),
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

    pipeline = _load(folder, prefix)
    found = rebuild(pipeline.prefix)
    click.echo(f"{found['segments']} segment(s), {found['instances']} instance(s) recorded")


@pipe.command()
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
        pipeline = _load(folder, prefix)
        prefix, name = pipeline.prefix, name or pipeline.name
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid
        user = ""
    entry = add(project.state_dir, name, prefix, by=user, ci=pipe_data(project))
    click.echo(f"tracking {entry.name}: {entry.prefix} (see /pipelines on the dashboard)")


@pipe.command()
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
