"""``pipl proj index review`` and ``reviews``: approve or reject a release on a stage, and
list the decisions; the API's own operations (``releases.review``, ``releases.reviews``)
carried out as this machine's user."""

from __future__ import annotations

from datetime import datetime

import click

from pipl.cli.output import emit_json, table
from pipl.cli.state import AppState, pass_state


def _when(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M")


@click.command()
@click.argument("decision", type=click.Choice(["approve", "reject"]))
@click.argument("project_name", metavar="PROJECT")
@click.argument("version")
@click.option("--stage", required=True, help="Stage (or its index) the release is on.")
@click.option("--comment", default="", help="Why; a reject needs one.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def review(
    state: AppState,
    decision: str,
    project_name: str,
    version: str,
    stage: str,
    comment: str,
    as_json: bool,
) -> None:
    """Approve or reject PROJECT VERSION on a stage, for the files it has there now.

    The release's maintainers on the stage (its owner and root included) and the users
    [reviews] reviewers in pipl.toml names decide; whoever uploaded a file of the release
    may not approve it (unless [reviews] self_approval = true). A reject needs --comment.
    An approval counts until the release's files change or its user rejects.

    \b
    Examples:
      pipl proj index review approve shot-010 1.2.0 --stage qa
      pipl proj index review reject shot-010 1.2.0 --stage qa --comment "frame 12 is black"
      pipl proj index review approve shot-010 1.2.0 --stage qa --comment "looks right" --json
    """
    from pipl.api.models import to_json

    with state.api() as api:
        done = api.releases.review(stage, project_name, version, decision, comment=comment)
    if as_json:
        emit_json("review", to_json(done))
        return
    verb = "approved" if done.decision == "approve" else "rejected"
    click.echo(f"{done.user} {verb} {done.project} {done.version} on {done.index}")


@click.command()
@click.argument("project_name", metavar="PROJECT")
@click.argument("version")
@click.option("--stage", required=True, help="Stage (or its index) the release is on.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def reviews(state: AppState, project_name: str, version: str, stage: str, as_json: bool) -> None:
    """List the approvals and rejects of PROJECT VERSION on a stage.

    VALID says whether a decision still counts for the release's current files (an
    approval no longer counts once the files change or its user rejects).

    \b
    Examples:
      pipl proj index reviews shot-010 1.2.0 --stage qa
      pipl proj index reviews shot-010 1.2.0 --stage qa --json
    """
    from pipl.api.models import to_json

    with state.api() as api:
        found = api.releases.reviews(stage, project_name, version)
    if as_json:
        emit_json("reviews", to_json(found))
        return
    what = f"{found.project} {found.version} on {found.index}"
    if not found.reviews:
        click.echo(f"{what}: no approvals or rejects yet")
    rows = [(_when(r.at), r.user, r.decision, r.valid, r.comment) for r in found.reviews]
    table(rows, ["AT", "USER", "DECISION", "VALID", "COMMENT"])
    approved = ", ".join(found.approved_by) or "nobody"
    click.echo(f"{what} is approved by {approved} for its current files")
