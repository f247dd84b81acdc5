"""``pipl proj replica`` and ``pipl proj nginx-config``: a copy of the index on
another port or host, and the web server configuration to put in front of either."""

from __future__ import annotations

from pathlib import Path

import click

from pipl.cli.state import AppState, pass_state


@click.command()
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--primary-url",
    required=True,
    metavar="URL",
    help="URL of the primary's devpi-server (http://HOST:PORT); it must answer now.",
)
@click.option(
    "--secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A copy of the primary project's .pipl/secrets/devpi-secret (default: read from "
    "the current project, when that is the primary).",
)
@click.option(
    "--name",
    help="The primary project's name (default: the current project's, else the folder name).",
)
@click.option("--port", type=click.IntRange(1, 65535), help="The replica's port (default 3141).")
@click.option(
    "--server-arg",
    "server_args",
    multiple=True,
    metavar="ARG",
    help="Extra devpi-server argument, stored in the replica's pipl.toml (repeatable).",
)
@click.option("--timeout", type=float, default=120.0, show_default=True)
@pass_state
def replica(
    state: AppState,
    path: Path,
    primary_url: str,
    secret_file: Path | None,
    name: str | None,
    port: int | None,
    server_args: tuple[str, ...],
    timeout: float,
) -> None:
    """Create a replica of a project's server in PATH and start it.

    The replica (devpi-server --primary-url) follows every change of the primary and
    serves the same indexes: point installers at it from another site or host. An
    upload sent to it is passed on to the primary, where CI runs. It signs its requests
    with the primary's server secret, which it needs: run this in the primary project, or
    pass a copy of its secret with --secret-file. 'pipl proj status' in PATH shows how
    many serials it is behind (its lag); in the primary, the replicas following it.

    \b
    Examples:
      pipl proj replica ~/replicas/demo --primary-url http://127.0.0.1:3141 --port 3150
      pipl --project ~/replicas/demo proj status
    """
    from pipl.errors import ProjectError, UsageError
    from pipl.project import replica as replicas
    from pipl.project import server
    from pipl.project.config import DEFAULT_PORT
    from pipl.project.project import find_project_root

    stages = None
    if secret_file is not None:
        secret = replicas.read_secret(secret_file)
    else:
        try:
            find_project_root(override=state.project_path)
        except ProjectError:
            raise UsageError(
                "no primary project here to take the server secret from: run this in the "
                "primary project (or pass --project), or pass --secret-file FILE"
            ) from None
        primary = state.project()
        secret = replicas.read_secret(primary.secrets.server_secret_file)
        name = name or primary.name
        stages = primary.config.stages
    server.check_port_free("127.0.0.1", port or DEFAULT_PORT)  # before making anything
    project = replicas.create_replica(
        path,
        primary_url=primary_url,
        server_secret=secret,
        name=name or Path(path).name,
        stages=stages,
        port=port,
        server_args=list(server_args),
    )
    click.echo(f"Created replica of {project.config.primary_url} at {project.root}")
    with server.starting(project, timeout):
        started = server.start_detached(project, timeout=timeout)
    click.echo(f"Replica running at {started.url} (pid {started.pid}, {started.seconds:.1f}s).")
    click.echo(f"  lag: pipl --project {project.root} proj status   stop: ... proj stop")


@click.command("nginx-config")
@click.option("--outside-url", metavar="URL", help="The URL clients use (devpi --outside-url).")
@click.option("--listen", type=click.IntRange(1, 65535), default=80, show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the configuration there (default: print it).",
)
@pass_state
def nginx_config(
    state: AppState, outside_url: str | None, listen: int, output: Path | None
) -> None:
    """Print an nginx configuration for the project's server (a primary or a replica).

    Made by devpi-gen-config (release files served from the server folder, the rest
    proxied), then adapted so that no cache hides a release promoted a second ago:
    nginx caches no proxied answer, and simple pages go out with Cache-Control:
    no-cache. Release files (/+f/, immutable) keep devpi's long lifetime.

    \b
    Example:
      pipl proj nginx-config --outside-url https://pkg.example -o /etc/nginx/conf.d/pkg.conf
    """
    from pipl.fsutil import atomic_write
    from pipl.project import nginx

    text = nginx.generate(state.project(), outside_url=outside_url, listen=listen)
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write(output, text)
        click.echo(f"Wrote {output}", err=True)
