"""The one exception family of pipl.

Every failure a user can cause or fix is a ``PiplError``: the message says what went
wrong, with which name or file, and what to do next. The CLI turns these into a single
``Error: ...`` line and the family's exit code; anything else keeps its traceback.
This module imports nothing, so every layer can raise these errors.
"""

from __future__ import annotations


class PiplError(Exception):
    """Root of pipl's errors. ``exit_code`` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(PiplError):
    """A value given by the user is not acceptable (a bad name, an unknown stage...)."""

    exit_code = 2


class BodyTooLarge(UsageError):
    """A request to the web server carries a larger body than its route accepts (HTTP 413)."""


class ProjectError(PiplError):
    """No project here, an existing project in the way, a broken pipl.toml."""

    exit_code = 3


class ServerError(PiplError):
    """The project's devpi-server could not be started, stopped or reached."""

    exit_code = 4


class ServerNotRunning(ServerError):
    """Nothing answers at the project's server URL."""


class PortBusy(ServerError):
    """The configured port is taken by another program."""


class WrongServer(ServerError):
    """Something other than the project's own devpi-server answers at its URL."""


class IndexServerError(PiplError):
    """devpi answered a request with an error; ``status`` is the HTTP status."""

    exit_code = 5

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthError(IndexServerError):
    """Login failed, or the request needs a user with more rights."""


class NotFound(IndexServerError):
    """The user, index, project or version does not exist."""


class Conflict(IndexServerError):
    """The thing exists already (user, index, or a file on a non-volatile index)."""


class PromotionRefused(Conflict):
    """A release cannot be promoted as asked: requirements missing, a stage skipped."""


class CommandError(PiplError):
    """A tool pipl runs (devpi-init, uv, pip, tox...) failed."""

    exit_code = 6


class WorkspaceError(PiplError):
    """A workarea or workspace is missing, broken or in the way."""

    exit_code = 7


class PacklError(PiplError):
    """A packl is missing, broken, or cannot be built or published."""

    exit_code = 8


class FrameworkError(PiplError):
    """pipl-pipe reported a problem: the asset store, a product, a service, a task type."""

    exit_code = 9


class PipelineError(PiplError):
    """A pipeline's definition, a segment's code or directives, or a run went wrong."""

    exit_code = 10


class PipelineBusy(PipelineError):
    """Another run is using the pipeline's data prefix."""
