"""``pipl proj``: create a project, run its server, log in; ``user`` and ``index`` subgroups."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipl.cli.output import emit_json, read_password, table
from pipl.cli.state import AppState, pass_state

if TYPE_CHECKING:
    from pipl.index.status import ServerStatus
    from pipl.project.project import Project
    from pipl.project.server import AlreadyRunning


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@click.group()
def proj() -> None:
    """Projects: create one, start/stop its devpi-server, manage its users and indexes."""


def _register_subgroups() -> None:
    from pipl.cli.proj_index import index
    from pipl.cli.proj_replica import nginx_config, replica
    from pipl.cli.proj_review import review, reviews
    from pipl.cli.proj_user import user

    index.add_command(review)
    index.add_command(reviews)

    proj.add_command(user)
    proj.add_command(index)
    proj.add_command(replica)
    proj.add_command(nginx_config)


@proj.command()
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--name",
    help="Project name (default: the folder name); also names the "
    "devpi user that owns the project's indexes.",
)
@click.option("--port", type=click.IntRange(1, 65535), help="Server port (default 3141).")
@click.option(
    "--stages",
    default="dev,qa,prod",
    show_default=True,
    help="Stage indexes, first stage first; each inherits the ones after it.",
)
@click.option("--no-pypi", is_flag=True, help="Offline project: no mirror of PyPI (root/pypi).")
@click.option(
    "--server-arg",
    "server_args",
    multiple=True,
    metavar="ARG",
    help="Extra devpi-server argument, stored in pipl.toml (repeatable).",
)
@click.option(
    "--postgresql",
    "pg_url",
    metavar="URL",
    help="Keep the index in PostgreSQL (devpi-postgresql) instead of SQLite: "
    "postgresql://USER@HOST:PORT/DATABASE, an existing database USER owns. "
    "The password is typed or read from stdin, never part of the URL.",
)
@click.option(
    "--storage-password-stdin",
    is_flag=True,
    help="Read the PostgreSQL password from stdin (with --postgresql).",
)
def create(
    path: Path,
    name: str | None,
    port: int | None,
    stages: str,
    no_pypi: bool,
    server_args: tuple[str, ...],
    pg_url: str | None,
    storage_password_stdin: bool,
) -> None:
    """Create a project in PATH (a new or empty folder).

    Writes pipl.toml, initializes the devpi server folder, and generates the root and
    project-owner passwords into 0600 files under .pipl/secrets (there is no default
    password). Nothing is left behind if any step fails.

    With --postgresql, devpi keeps users, indexes and files in that database; the
    password goes to .pipl/secrets/postgresql-password (0600) and reaches devpi-server
    through a 0600 config file, never a command line.

    \b
    Examples:
      pipl proj create ~/projects/demo --stages dev,qa,prod
      echo "$PGPASSWORD" | pipl proj create ~/projects/big \\
          --postgresql postgresql://devpi@db.example:5432/big --storage-password-stdin
    """
    from pipl.project.create import create_project

    pg, pg_password = None, None
    if pg_url:
        from pipl.project.storage import parse_url

        pg = parse_url(pg_url, name or Path(path).name)
        pg_password = read_password(storage_password_stdin, prompt="PostgreSQL password")
    elif storage_password_stdin:
        raise click.UsageError("--storage-password-stdin goes with --postgresql URL")
    project = create_project(
        path,
        name=name,
        port=port,
        stages=_split(stages),
        pypi_mirror=not no_pypi,
        server_args=list(server_args),
        postgresql=pg,
        storage_password=pg_password,
    )
    click.echo(f"Created project {project.name!r} at {project.root}")
    click.echo(f"  server url:  {project.url}  (start it: pipl proj start --detach)")
    click.echo(f"  stages:      {' -> '.join(project.config.stages)}")
    click.echo(f"  secrets:     {project.secrets.path} (0600 files)")


@proj.command()
@click.option(
    "--detach",
    "-d",
    is_flag=True,
    help="Run in the background (pid file and log under .pipl/run) and return "
    "once the server answers.",
)
@click.option(
    "--timeout",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds to wait for the server to answer.",
)
@click.option("--no-ci", is_flag=True, help="Do not start the CI runner beside the server.")
@click.option(
    "--no-supervise",
    is_flag=True,
    help="Start the CI runner without its supervisor (nothing restarts it when it dies).",
)
@pass_state
def start(state: AppState, detach: bool, timeout: float, no_ci: bool, no_supervise: bool) -> None:
    """Start the project's devpi-server, and the CI runner beside it (unless --no-ci).

    Starts whichever of the two is missing, and says which; fails only when both run.
    The runner runs under a supervisor that starts it again when it dies.
    In the foreground by default (Ctrl-C stops both cleanly); with --detach in the
    background. Of two starts at once, one starts the server and the other says it runs.

    \b
    Example:
      pipl proj start --detach
    """
    from pipl.ci import service as ci_service
    from pipl.project import server

    project = state.project()
    # a replica records no upload: CI runs beside the primary
    no_ci = no_ci or project.config.is_replica

    def start_ci(*, quiet: bool = False) -> bool:
        """Start what is missing of the CI runner; True if something was."""
        if no_ci:
            return False
        ci = ci_service.ensure(project, supervise=not no_supervise)
        started = ci.runner_started or ci.supervisor_started
        if started or not quiet:
            click.echo(ci.describe())
        return started

    if detach or server.read_pid(project) is not None:
        with server.starting(project, timeout):
            try:
                _report_started(server.start_detached(project, timeout=timeout))
            except server.AlreadyRunning as running:
                if not start_ci(quiet=True):
                    raise _all_running(project, running) from None
                click.echo(f"Server already running at {project.url} (pid {running.pid}).")
                return
            start_ci()
        click.echo(f"  log: {project.logfile}   stop: pipl proj stop")
        return

    def on_ready(started: server.Started) -> None:
        _report_started(started)
        start_ci()
        click.echo("  Ctrl-C stops it.")

    try:
        code = server.run_foreground(project, on_ready=on_ready, timeout=timeout)
    finally:
        ci_service.stop(project)
    click.echo(f"Server stopped (exit {code}).")


def _echo_replication(st: ServerStatus) -> None:
    """The replica's lag behind its primary, or the replicas following this server."""
    rep = st.replica
    if rep is not None:
        lag = "unknown" if rep.lag is None else f"{rep.lag} serial{'s' * (rep.lag != 1)} behind"
        seen = "" if rep.primary_reachable else " (primary not answering: its last known serial)"
        errors = f", {rep.errors} replication errors" if rep.errors else ""
        click.echo(f"replica of:   {rep.primary_url}  lag: {lag}{seen}{errors}")
    for follower in st.replicas:
        lag = "unknown" if follower.lag is None else str(follower.lag)
        seen = ""
        if follower.last_seen is not None:
            seen = f", last asked {max(0.0, time.time() - follower.last_seen):.0f}s ago"
        click.echo(f"replica:      {follower.url}  at serial {follower.serial}, lag {lag}{seen}")


def _all_running(project: Project, running: AlreadyRunning) -> AlreadyRunning:
    """The error of a start that found everything running."""
    from pipl.ci import service as ci_service
    from pipl.project.server import AlreadyRunning

    pid = ci_service.runner_pid(project)
    if pid is None:
        return running
    return AlreadyRunning(f"{running}, and so is its CI runner (pid {pid})", running.pid)


def _report_started(started: object) -> None:
    from pipl.project.server import Started

    assert isinstance(started, Started)
    if started.cleared_stale_pid:
        click.echo(f"Removed a stale pid file (pid {started.cleared_stale_pid} was gone).")
    click.echo(f"Server ready at {started.url} (pid {started.pid}, {started.seconds:.2f}s)")


@proj.command()
@pass_state
def stop(state: AppState) -> None:
    """Stop the project's server and its CI runner (SIGTERM, then SIGKILL after 20 s).

    Works from the pid files under .pipl/, so a broken pipl.toml does not keep a
    running server from stopping. A server that is not running is already where this
    command would leave it: it says so and exits 0, so stopping twice is no error.

    \b
    Example:
      pipl proj stop
    """
    from pipl.ci import service as ci_service
    from pipl.errors import ServerNotRunning
    from pipl.project import server

    files = state.project_files()
    ci_pid = ci_service.stop(files)
    if ci_pid is not None:
        click.echo(f"CI runner stopped (pid {ci_pid}).")
    try:
        pid = server.stop(files)
    except ServerNotRunning as exc:
        click.echo(f"Nothing to stop: {exc}.")
        return
    click.echo(f"Server stopped (pid {pid}).")


@proj.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def status(state: AppState, as_json: bool) -> None:
    """Show the server's url, pid, devpi serials and indexes, and the CI runner's state.

    Checks first that the server answering at the project's port is the project's own
    (the uuid of its server folder); anything else is an error naming what answers.

    With --json, one document a monitoring system can read: the server, the runner, its
    sandbox, the jobs in each state, the upload events recorded and taken, the URL of
    the runner's /metrics page (Prometheus), and "health": {"ok": ..., "problems": [...]}.
    It exits 0 whatever the health (a problem is in the document, not in the exit code).

    \b
    Example:
      pipl proj status --json
    """
    from pipl.ci.metrics import figures, problems
    from pipl.index.status import server_status
    from pipl.service import status as runner_status

    st = server_status(state.project())
    ci_st = runner_status(state.project())
    sandbox, why = ci_st.sandbox
    if sandbox != "ok":  # every time: index code does not run, or runs unsandboxed
        click.echo(f"Warning: the CI sandbox is {sandbox}: {why}", err=True)
    metrics = f"{ci_st.web}/metrics" if ci_st.web else None
    if as_json:
        ci = figures(state.project().root)
        found = problems(
            server_running=st.running,
            plugin=st.plugin,
            runner_running=ci_st.running,
            sandbox=ci_st.sandbox,
        )
        emit_json(
            "status",
            {
                **st.to_dict(),
                "ci": {
                    **ci_st.to_dict(),
                    "jobs": ci.jobs,
                    "events": {
                        "recorded": ci.events_recorded,
                        "taken": ci.events_taken,
                        "pending": ci.events_pending,
                    },
                    "metrics": metrics,
                },
                "health": {"ok": not found, "problems": found},
            },
        )
        return
    click.echo(f"project:      {st.project}  ({st.root})")
    click.echo(f"url:          {st.url}")
    if not st.running:
        click.echo("server:       not running  (start: pipl proj start --detach)")
        return
    click.echo(f"server:       running, pid {st.pid or 'unknown (not started by pipl)'}")
    click.echo(f"serial:       {st.serial}  (events processed up to {st.event_serial})")
    click.echo(f"storage:      {st.storage}")
    _echo_replication(st)
    click.echo(f"pipl plugin:  {'loaded' if st.plugin else 'NOT loaded'}")
    click.echo(f"log:          {st.log}")
    jobs = ", ".join(f"{n} {s}" for s, n in ci_st.counts.items() if n) or "no jobs"
    ci_line = f"running, pid {ci_st.pid}" if ci_st.running else "not running"
    click.echo(f"ci runner:    {ci_line} ({jobs})")
    sup = ci_st.supervisor
    if sup is not None:
        restarts = f"{sup.restarts} restart{'s' * (sup.restarts != 1)} of the runner"
        last = f"; {sup.last}" if sup.last else ""
        click.echo(f"supervisor:   running, pid {sup.pid} ({restarts}{last})")
    elif ci_st.running:
        click.echo("supervisor:   not running (nothing restarts the runner if it dies)")
    click.echo(f"sandbox:      {ci_st.sandbox[1]}")
    if ci_st.web:
        click.echo(f"dashboard:    {ci_st.web}  (pipl proj web opens it)")
        click.echo(f"metrics:      {metrics}  (Prometheus)")
    if st.indexes:
        click.echo("")
        table(
            [(i.name, i.bases, i.volatile, i.projects) for i in st.indexes],
            ["INDEX", "BASES", "VOLATILE", "PROJECTS"],
        )
    else:
        click.echo("indexes:      none (create them: pipl proj index create-default)")


@proj.command()
@click.argument("user")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@pass_state
def login(state: AppState, user: str, password_stdin: bool) -> None:
    """Log in as USER; later commands act as USER until 'pipl proj logout'.

    The password is checked by the server and then forgotten: only devpi's login token is
    kept, in a 0600 file in your config folder. It is sent only once the server is known
    to be the project's own. A password change ends the login.

    \b
    Example:
      pipl proj login alice
      echo "$ALICE_PASSWORD" | pipl proj login alice --password-stdin
    """
    from pipl.index.session import login as do_login

    project = state.project()
    password = read_password(password_stdin, confirm=False)
    token = do_login(project, user, password)
    click.echo(f"Logged in as {token.user} at {project.url}")


@proj.command()
@pass_state
def logout(state: AppState) -> None:
    """Forget this machine's login token for the project.

    Afterwards pipl acts as the project owner when you can read the project's secrets;
    otherwise commands that need a login say so.

    \b
    Example:
      pipl proj logout
    """
    from pipl.index.session import logout as do_logout

    do_logout(state.project())
    click.echo("Logged out.")


_register_subgroups()


@proj.command()
@click.option("--no-browser", is_flag=True, help="Only print the URL.")
@pass_state
def web(state: AppState, no_browser: bool) -> None:
    """Open the project's web dashboard in a browser (and print its URL).

    The dashboard and the HTTP API are served by the CI runner that 'pipl proj start'
    starts; set their address with [web] host and port in pipl.toml.

    \b
    Example:
      pipl proj web
      pipl proj web --no-browser
    """
    import webbrowser

    from pipl.errors import ServerNotRunning
    from pipl.web.address import web_url

    project = state.project()
    url = web_url(project)
    if url is None:
        raise ServerNotRunning(
            f"the dashboard of project {project.name!r} is not served: start the project "
            "with 'pipl proj start --detach' (and see 'pipl proj status')"
        )
    click.echo(url)
    if not no_browser:
        webbrowser.open(url)


@proj.command()
@pass_state
def token(state: AppState) -> None:
    """Print a login token for pipl's HTTP API, as the user pipl acts as here.

    Give it to a remote script: Client(URL, token=TOKEN). It is devpi's login token and
    ends like the login (on 'pipl proj logout', a password change, or when it expires).
    Treat it like a password.

    \b
    Example:
      export PIPL_TOKEN=$(pipl proj token)
    """
    from pipl.api.service import Caller
    from pipl.index.session import connect

    # the user's login, else the owner's from the project's secrets; a failure says which
    with connect(state.project(), "user") as client:
        header = Caller(client.user, client.token).header
    click.echo(header)
