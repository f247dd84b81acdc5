"""``pipl proj index flow``: pause, resume and show data flowing downstream on a stage,
through the API's own operations (``flow.status``, ``flow.change``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from pipl.cli.output import emit_json, table
from pipl.cli.state import AppState, pass_state

if TYPE_CHECKING:
    from pipl.api.flow import FlowStage


@click.group("flow")
def flow_group() -> None:
    """Data flowing downstream: re-processing what depends on a new release.

    A release landing on a stage where processing runs re-processes the task and pipeline
    packls there that depend on it. Paused, the stage notes such releases instead (their
    products show as stale); resuming queues the re-processings for the latest of them.
    """


def _line(found: FlowStage) -> str:
    if not found.paused:
        state = "flows" if found.processing else "flows (no processing runs there)"
    else:
        since = datetime.fromtimestamp(found.since or 0).strftime("%Y-%m-%d %H:%M")
        state = f"paused since {since} by {found.by}"
    return f"{found.stage} ({found.index}): {state}"


@flow_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def flow_status(state: AppState, as_json: bool) -> None:
    """Show, for each stage, whether data flows downstream there.

    \b
    Examples:
      pipl proj index flow status
      pipl proj index flow status --json
    """
    with state.api() as api:
        found = api.flow.status()
    if as_json:
        emit_json("flow", [f.__dict__ for f in found])
        return
    table(
        [
            (
                f.stage,
                f.index,
                "yes" if f.processing else "no",
                "paused" if f.paused else "flows",
                f.by or "-",
                ", ".join(f.skipped) or "-",
            )
            for f in found
        ],
        ["STAGE", "INDEX", "PROCESSING", "FLOW", "PAUSED BY", "SKIPPED"],
    )


@flow_group.command("pause")
@click.argument("stage")
@pass_state
def flow_pause(state: AppState, stage: str) -> None:
    """Pause data flowing downstream on STAGE (the owner or root).

    Releases landing there re-process nothing until it is resumed.

    \b
    Example:
      pipl proj index flow pause qa
    """
    with state.api() as api:
        found = api.flow.pause(stage)
    click.echo(_line(found))


@flow_group.command("resume")
@click.argument("stage")
@pass_state
def flow_resume(state: AppState, stage: str) -> None:
    """Resume data flowing downstream on STAGE (the owner or root).

    The re-processings for the latest releases that landed there while it was paused
    are queued.

    \b
    Example:
      pipl proj index flow resume qa
    """
    with state.api() as api:
        found = api.flow.resume(stage)
    click.echo(_line(found))
    if found.queued:
        click.echo(f"queued: re-processing job(s) {', '.join(str(j) for j in found.queued)}")
