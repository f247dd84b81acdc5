"""``pipl ci``: the CI runner and its jobs.

The jobs' commands (list, show, logs, retry, cancel) call the API's operations
(``jobs.*``) in this process, as this machine's user (``Client.from_project``): the same
checks and answers as over HTTP. The runner itself and ``ci wait``'s progress over all
jobs work on the CI database."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import click

from pipl.cli.output import emit_json, table
from pipl.cli.state import AppState, pass_state
from pipl.text import shorten

if TYPE_CHECKING:
    from pipl.api.jobs import Job

T = TypeVar("T")


@click.group()
def ci() -> None:
    """CI on upload: the runner, its jobs, their logs."""


def _when(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S") if ts else None


def _secs(value: float | None) -> str | None:
    return f"{value:.1f}s" if value is not None else None


def _on_job(job_id: int, call: Callable[[int], T]) -> T:
    """``call(job_id)``; a job id the API does not find (or does not show this user) is a
    usage error here, as a mistyped argument is."""
    from pipl.errors import NotFound, UsageError

    try:
        return call(job_id)
    except NotFound as exc:
        raise UsageError(exc.message) from None


@ci.command()
@click.option("--until-idle", is_flag=True, help="Exit once no job is queued or running.")
@pass_state
def run(state: AppState, until_idle: bool) -> None:
    """Run the CI runner in the foreground (Ctrl-C stops it).

    'pipl proj start' starts it in the background beside the server. Jobs run on this
    host, except with [ci] executor = "dask" in pipl.toml: then wheel builds, tox runs and
    processing run on the Dask cluster at [ci] scheduler and the runner uploads what they
    send back (see docs/dask.md).

    \b
    Example:
      pipl ci run --until-idle
    """
    from pipl.service import serve

    project = state.project()
    click.echo(f"CI runner of project {project.name!r} ({project.url}); Ctrl-C stops it.")
    serve(project, until_idle=until_idle, say=lambda line: click.echo(line))
    click.echo("CI runner stopped.")


@ci.command("list")
@click.option("--state", "job_state", help="Only jobs in this state (queued, running, ...).")
@click.option("--packl", "name", help="Only jobs of this project (distribution) name.")
@click.option("--index", help="Only jobs on this index (USER/NAME, or a stage's name).")
@click.option("--handler", help="Only jobs of this handler (qa, wheel, promote...).")
@click.option(
    "--limit", type=int, default=50, show_default=True, help="Newest jobs shown (1 to 500)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def list_jobs(
    state: AppState,
    job_state: str | None,
    name: str | None,
    index: str | None,
    handler: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List the newest CI jobs, oldest first: those of the indexes you may read (the
    owner sees all, also while the server is stopped).

    \b
    Example:
      pipl ci list --state failed
    """
    with state.api() as client:
        newest = client.jobs.list(job_state, packl=name, index=index, handler=handler, limit=limit)
    jobs = newest[::-1]
    if as_json:
        emit_json("ci-jobs", [asdict(j) for j in jobs])
        return
    if not jobs:
        if job_state or name or index or handler:
            click.echo("No CI job matches.")
        else:
            click.echo("No CI jobs yet (jobs appear when releases reach an index with handlers).")
        return
    table(
        [
            (
                j.id,
                j.handler,
                j.index,
                j.project,
                j.version,
                j.state,
                _secs(j.seconds),
                shorten(" ".join(j.message.split()), 60),
            )
            for j in jobs
        ],
        ["ID", "HANDLER", "INDEX", "PROJECT", "VERSION", "STATE", "TIME", "MESSAGE"],
    )


@ci.command()
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def show(state: AppState, job_id: int, as_json: bool) -> None:
    """Show one CI job.

    \b
    Example:
      pipl ci show 12
    """
    from pipl.ci.runner import log_path

    project = state.project()
    with state.api() as client:
        job = _on_job(job_id, client.jobs.get)
    if as_json:
        emit_json("ci-job", {**asdict(job), "log": str(log_path(project, job.id))})
        return
    click.echo(f"job:      {job.id} ({job.handler})")
    click.echo(f"release:  {job.project} {job.version} on {job.index}")
    click.echo(f"file:     {job.filename} (sha256 {job.sha256})")
    click.echo(f"state:    {job.state} (attempt {job.attempts})")
    click.echo(
        f"created:  {_when(job.created)}  started: {_when(job.started) or '-'}  "
        f"finished: {_when(job.finished) or '-'}  took: {_secs(job.seconds) or '-'}"
    )
    if job.reason:
        click.echo(f"reason:   {job.reason}")
    click.echo(f"message:  {job.message or '-'}")
    click.echo(f"log:      {log_path(project, job.id)}")


@ci.command()
@click.argument("job_id", type=int)
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job ends.")
@pass_state
def logs(state: AppState, job_id: int, follow: bool) -> None:
    """Print a CI job's log (with -f, follow it until the job ends).

    \b
    Example:
      pipl ci logs 12 -f
    """
    status_shown = False  # a status line on stderr, to clear before more of the log
    tail = ""  # the end of what was printed: the final line does not repeat it
    with state.api() as client:
        job = _on_job(job_id, client.jobs.get)
        offset = 0
        while True:
            part = client.jobs.log(job_id, offset)
            if part.text:
                if status_shown:
                    click.echo("\r\x1b[K", nl=False, err=True)
                    status_shown = False
                click.echo(part.text, nl=False)
                tail = (tail + part.text)[-4096:]
            offset = part.offset
            if part.done:
                break
            if offset < part.size and part.text:
                continue  # more of the log is there already
            if not follow:
                break
            if sys.stderr.isatty():
                job = client.jobs.get(job_id)
                status = (
                    f"[job {job.id} {job.handler}: {job.state}, {_secs(job.seconds) or '0.0s'}]"
                )
                click.echo(f"\r\x1b[K{status}", nl=False, err=True)
                status_shown = True
            time.sleep(0.3)
        if follow:
            job = client.jobs.get(job_id)
    if follow:
        if status_shown:
            click.echo("\r\x1b[K", nl=False, err=True)
        click.echo(_last_word(job, tail), err=True)


def _last_word(job: Job, log_tail: str) -> str:
    """The line ``logs -f`` ends with: the job's state, and its message unless the log's
    last line already says it (a job's log ends with its outcome)."""
    lines = [line for line in log_tail.splitlines() if line.strip()]
    said = bool(job.message) and bool(lines) and job.message.strip() in lines[-1]
    message = "" if said else job.message
    return f"job {job.id} {job.handler}: {job.state} {message}".rstrip()


@ci.command()
@click.argument("job_id", type=int)
@pass_state
def retry(state: AppState, job_id: int) -> None:
    """Queue a failed or cancelled CI job again.

    \b
    Example:
      pipl ci retry 12
    """
    with state.api() as client:
        job = _on_job(job_id, client.jobs.retry)
    click.echo(f"Job {job.id} ({job.handler} {job.project} {job.version}) queued again.")


@ci.command()
@click.argument("job_id", type=int)
@pass_state
def cancel(state: AppState, job_id: int) -> None:
    """Cancel a queued or running CI job (a running one is stopped).

    \b
    Example:
      pipl ci cancel 12
    """
    with state.api() as client:
        job = _on_job(job_id, client.jobs.cancel)
    click.echo(f"Job {job.id} ({job.handler} {job.project} {job.version}) cancelled.")


@ci.command()
@click.argument("packl", required=False)
@click.argument("version", required=False)
@click.option("--timeout", type=float, default=600.0, show_default=True, help="Seconds to wait.")
@pass_state
def wait(state: AppState, packl: str | None, version: str | None, timeout: float) -> None:
    """Wait until no CI job is queued or running (the runner must be running), with a
    line for each job as it ends.

    With PACKL and VERSION, wait only for what that release's upload set going: its jobs,
    its promotions to later stages and their jobs, the products its processing published
    and their jobs (as pipl.Client.wait does); an error when one of them did not pass.

    Exits 12 when the timeout comes first (jobs still queued or running), 11 when the
    runner is not running or, with PACKL and VERSION, when a job did not pass.

    \b
    Example:
      pipl ci wait --timeout 120 && pipl ci list --state failed
      pipl ci wait shot-010 0.2.0
    """
    from pipl.ci import db
    from pipl.ci.service import runner_pid
    from pipl.errors import CiError, WaitTimeout

    project = state.project()
    if packl or version:
        if not (packl and version):
            raise click.UsageError("give both PACKL and VERSION, or neither")
        if runner_pid(project) is None:
            raise CiError("the CI runner is not running: start it with 'pipl proj start'")
        _wait_release(state, packl, version, timeout)
        return
    # Waiting for all jobs stays on the CI database: its progress lines need the jobs as
    # they end, in the order they end (no operation answers that), and no access check is
    # lost: it shows what the runner does, which 'pipl proj status' shows too.
    conn = db.open_db(project.root)
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    counts: dict[str, int] = {}
    since, shown = time.time(), set()
    try:
        while True:
            for job in db.ended_since(conn, since):  # progress: a line per job as it ends
                if job.id not in shown:
                    shown.add(job.id)
                    line = (
                        f"job {job.id} {job.handler} {job.index} {job.project} "
                        f"{job.version}: {job.state}  {job.message or ''}"
                    )
                    click.echo(shorten(" ".join(line.split()), 160))
            counts = db.counts(conn)
            busy = counts[db.QUEUED] + counts[db.RUNNING]
            now = time.monotonic()
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since > 2.0:  # uploads in flight become jobs within this
                break
            if runner_pid(project) is None:
                raise CiError("the CI runner is not running: start it with 'pipl proj start'")
            if now > deadline:
                raise WaitTimeout(
                    f"{busy} CI job(s) still queued or running after {timeout:.0f}s: wait "
                    "longer (--timeout) or see them with 'pipl ci list --state running'"
                )
            time.sleep(0.2)
    finally:
        conn.close()
    click.echo(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no jobs")


def _wait_release(state: AppState, packl: str, version: str, timeout: float) -> None:
    with state.api() as client:
        seen = client.wait(packl, version, timeout=timeout)
    if seen.jobs:
        table(
            [(j.id, j.handler, j.index, j.project, j.version, j.state) for j in seen.jobs],
            ["ID", "HANDLER", "INDEX", "PROJECT", "VERSION", "STATE"],
        )
    click.echo(", ".join(f"{n} {s}" for s, n in seen.states.items()) or "no jobs")
    bad = [j for j in seen.jobs if j.state != "passed"]
    if bad:
        from pipl.errors import CiError

        raise CiError(
            f"{packl} {version}: {len(bad)} CI job(s) did not pass (first: job {bad[0].id} "
            f"{bad[0].handler} {bad[0].state}): see 'pipl ci logs {bad[0].id}'"
        )
