"""``pipl pipe run``: compute what is not done yet, or say what would run and why
(``--dry-run``), with a progress bar per segment and a table of what ran."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipl.cli.output import emit_json, table
from pipl.cli.pipe_options import json_option, load, pipeline_option, prefix_option

if TYPE_CHECKING:
    from pipl.pipe import Pipeline, RunReport, SegmentPlan


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


@click.command("run")
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

    pipeline = load(folder, prefix)
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
