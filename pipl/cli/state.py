"""State shared by all commands of one ``pipl`` invocation, and the error boundary."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click
from pipl_pipe.errors import PipeError

from pipl.errors import FrameworkError, PiplError

if TYPE_CHECKING:
    from pipl.api import Client
    from pipl.index.client import IndexClient
    from pipl.index.session import Identity
    from pipl.project.project import Project, ProjectFiles


class CliError(click.ClickException):
    """A ``PiplError`` on its way out: click prints ``Error: <message>`` and exits."""

    def __init__(self, error: PiplError) -> None:
        super().__init__(error.message)
        # click declares exit_code on the class; each pipl error family has its own
        self.exit_code = error.exit_code  # type: ignore[misc]  # a ClassVar in click's stubs


class Interrupted(click.ClickException):
    """Ctrl-C: ``Error: interrupted`` and exit 130 (128 + SIGINT), as shells expect, where
    click would say ``Aborted!`` and exit 1, like a failure."""

    exit_code = 130

    def __init__(self) -> None:
        super().__init__("interrupted (Ctrl-C)")


@contextlib.contextmanager
def error_boundary() -> Iterator[None]:
    """The CLI's one error boundary (around the root command): a ``PiplError`` becomes
    ``Error: <message>`` and its family's exit code, Ctrl-C exit 130; anything else keeps
    its traceback."""
    try:
        yield
    except KeyboardInterrupt as exc:
        raise Interrupted() from exc
    except click.Abort as exc:  # a prompt turns Ctrl-C into Abort; a refused confirm stays 1
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise Interrupted() from exc
        raise
    except PiplError as exc:
        raise CliError(exc) from exc
    except PipeError as exc:  # the framework's errors, e.g. a corrupted asset
        raise CliError(FrameworkError(str(exc))) from exc
    except PermissionError as exc:  # another OS user's file in a shared project
        raise CliError(PiplError(_permission_message(exc))) from exc


def _permission_message(exc: PermissionError) -> str:
    where = f" on {exc.filename}" if exc.filename else ""
    return (
        f"permission denied{where}: it belongs to another user of the project; ask the "
        "project's owner for access (for example group write access to the project's "
        "workareas), or for the command to be run by them"
    )


@dataclass
class AppState:
    """Built once in the root command, passed to every subcommand."""

    project_path: str | None = None
    _project: Project | None = field(default=None, repr=False)

    def project(self) -> Project:
        if self._project is None:
            from pipl.project.project import find_project

            self._project = find_project(override=self.project_path)
            for warning in self._project.config.warnings:
                click.echo(f"Warning: {warning}", err=True)
        return self._project

    def index_name(self, name: str) -> str:
        """An index named on the command line, checked: ``dev`` means the project owner's
        ``dev``; ``bob/sandbox`` is taken as is."""
        from pipl import names

        return names.check_index(name if "/" in name else f"{self.project().owner}/{name}")

    def project_files(self) -> ProjectFiles:
        """The project, or only its folder when its pipl.toml cannot be read (enough to
        stop its server)."""
        from pipl.errors import ProjectError
        from pipl.project.project import ProjectFiles, find_project_root

        try:
            return self.project()
        except ProjectError as exc:
            root = find_project_root(override=self.project_path)  # no project: raises again
            click.echo(f"Warning: {exc}", err=True)
            return ProjectFiles(root)

    def client(self, identity: Identity = "user") -> IndexClient:
        from pipl.index.session import connect

        return connect(self.project(), identity)

    def api(self) -> Client:
        """The project's API operations, carried out in this process as this machine's
        user ('pipl proj login', else the owner when the project's secrets are readable,
        else anonymous): the same checks and answers as over HTTP. Close it (``with``)."""
        from pipl.api import Client

        return Client.from_project(self.project().root)


pass_state = click.make_pass_decorator(AppState)
