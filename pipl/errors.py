"""The one exception family of pipl, and what each error means to a shell and over HTTP.

Every failure a user can cause or fix is a ``PiplError``: the message says what went
wrong, with which name or file, and what to do next. The CLI turns these into a single
``Error: ...`` line and the family's exit code; anything else keeps its traceback. The
HTTP API and the dashboard answer with the status ``http_status(error)`` gives, and name
the error's class, so ``pipl.Client`` raises the same class again (``error_for_answer``).
This module imports nothing, so every layer can raise these errors.

Each family has an exit code of its own; each class answers HTTP with the status of its row.

====  ================  ====  ===============================================================
exit  family            HTTP  classes
====  ================  ====  ===============================================================
1     PiplError         409   PiplError (anything else, e.g. another user's file)
2     UsageError        400   UsageError
2     UsageError        405   MethodNotAllowed
2     UsageError        413   BodyTooLarge
3     ProjectError      409   ProjectError
4     ServerError       503   ServerError, ServerNotRunning, PortBusy, WrongServer, AlreadyRunning
5     IndexServerError  502   IndexServerError (a 4xx answer of devpi's own is passed on)
5     IndexServerError  401   AuthError
5     IndexServerError  403   Forbidden
5     IndexServerError  404   NotFound
5     IndexServerError  409   Conflict, PromotionRefused
6     CommandError      409   CommandError
7     WorkspaceError    409   WorkspaceError
8     PacklError        409   PacklError
9     FrameworkError    409   FrameworkError, GcRefused
10    PipelineError     409   PipelineError, PipelineBusy
11    CiError           409   CiError, HandlerFailed, NeedsResources, NotYet, Rejected
11    CiError           503   InfraError, SandboxUnavailable
12    WaitTimeout       504   WaitTimeout
====  ================  ====  ===============================================================

409 says the request cannot be done in the project's present state. Usage errors of
click's own (a missing argument, an unknown option) exit 2 as well; an error of the
pipl-pipe framework (``pipl_pipe.errors.PipeError``) is a ``FrameworkError`` (9).
"""

from __future__ import annotations

from typing import ClassVar


class PiplError(Exception):
    """Root of pipl's errors. ``exit_code`` is what the CLI exits with, ``http_status``
    what the HTTP API answers (see ``http_status()``)."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 409

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_answer(cls, message: str, status: int) -> PiplError:
        """This error, as an HTTP API answer of status ``status`` carries it back."""
        return cls(message)


# -- 2: usage ------------------------------------------------------------------------------
class UsageError(PiplError):
    """A value given by the user is not acceptable (a bad name, an unknown stage...)."""

    exit_code = 2
    http_status = 400


class BodyTooLarge(UsageError):
    """A request to the web server carries a larger body than its route accepts."""

    http_status = 413


class MethodNotAllowed(UsageError):
    """An HTTP API path asked with a method it does not answer (a GET for a POST)."""

    http_status = 405


# -- 3: project ----------------------------------------------------------------------------
class ProjectError(PiplError):
    """No project here, an existing project in the way, a broken pipl.toml."""

    exit_code = 3


# -- 4: the project's server ---------------------------------------------------------------
class ServerError(PiplError):
    """The project's devpi-server could not be started, stopped or reached."""

    exit_code = 4
    http_status = 503


class ServerNotRunning(ServerError):
    """Nothing answers at the project's server URL."""


class PortBusy(ServerError):
    """The configured port is taken by another program."""


class WrongServer(ServerError):
    """Something other than the project's own devpi-server answers at its URL."""


class AlreadyRunning(ServerError):
    """The project's server runs already, as process ``pid`` (0: not known here)."""

    def __init__(self, message: str, pid: int = 0) -> None:
        super().__init__(message)
        self.pid = pid


# -- 5: what the index server answered -----------------------------------------------------
class IndexServerError(PiplError):
    """devpi answered a request with an error, or did not answer; ``status`` is the HTTP
    status devpi answered (None when it did not)."""

    exit_code = 5
    http_status = 502

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @classmethod
    def from_answer(cls, message: str, status: int) -> PiplError:
        return cls(message, status=status)


class AuthError(IndexServerError):
    """Login failed, or the request needs a logged-in user."""

    http_status = 401


class Forbidden(AuthError):
    """The user is logged in but may not do this (another user's release, owner only)."""

    http_status = 403


class NotFound(IndexServerError):
    """The user, index, project or version does not exist."""

    http_status = 404


class Conflict(IndexServerError):
    """The thing exists already (user, index, or a file on a non-volatile index)."""

    http_status = 409


class PromotionRefused(Conflict):
    """A release cannot be promoted as asked: requirements missing, a stage skipped."""


# -- 6 to 10: tools, workspaces, packls, the framework, pipelines --------------------------
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


class GcRefused(FrameworkError):
    """A published product's references cannot be known: nothing may be removed."""


class PipelineError(PiplError):
    """A pipeline's definition, a segment's code or directives, or a run went wrong."""

    exit_code = 10


class PipelineBusy(PipelineError):
    """Another run is using the pipeline's data prefix."""


# -- 11: CI --------------------------------------------------------------------------------
class CiError(PiplError):
    """The CI runner or one of its jobs failed."""

    exit_code = 11


class HandlerFailed(CiError):
    """The handler ran and the release did not pass (tests failed, the build broke...)."""


class InfraError(CiError):
    """Something around the handler failed (the server, the network): retried later."""

    http_status = 503


class NeedsResources(CiError):
    """The build part found that the release asks for Dask worker resources this worker
    was not chosen for (``[tool.pipl] resources`` of a packl): the runner sends it again,
    asking for them."""

    def __init__(self, resources: dict[str, float] | str) -> None:
        # a message (from an HTTP answer) or the resources asked for
        if isinstance(resources, str):
            super().__init__(resources)
            self.resources: dict[str, float] = {}
        else:
            super().__init__(f"the release asks for worker resources {resources}")
            self.resources = resources


class NotYet(CiError):
    """The job waits for another one (QA of the release elsewhere): queued again shortly,
    without counting an attempt."""


class SandboxUnavailable(CiError):
    """No sandbox can start here: jobs that run index code do not run."""

    http_status = 503


class Rejected(CiError):
    """A file or folder a sandbox handed back breaks a rule: nothing of it is used."""


# -- 12: waiting ---------------------------------------------------------------------------
class WaitTimeout(PiplError):
    """``client.wait`` or ``pipl ci wait`` gave up: jobs were still queued or running at
    its timeout (the jobs themselves may still pass)."""

    exit_code = 12
    http_status = 504


# -- over HTTP -----------------------------------------------------------------------------
def http_status(error: PiplError) -> int:
    """The HTTP status the API and the dashboard answer ``error`` with: its class's, except
    that a refusal devpi answered with a 4xx status of its own (a bad request, a file too
    large...) is passed on as that status."""
    if type(error) is IndexServerError and error.status and 400 <= error.status < 500:
        return error.status
    return type(error).http_status


def error_class(kind: str) -> type[PiplError]:
    """The class an HTTP API answer names as ``kind``; ``IndexServerError`` (an error
    answer of a server) for a kind this pipl does not know."""
    found = globals().get(kind)
    if isinstance(found, type) and issubclass(found, PiplError):
        return found
    return IndexServerError


def error_for_answer(kind: str, message: str, status: int) -> PiplError:
    """The error an HTTP API answer ``{"error": {"kind", "message"}}`` of ``status`` stands
    for: the class the server raised, so a client catches what the server raised."""
    return error_class(kind).from_answer(message, status)


# the root of each family, in exit-code order (the table above)
FAMILIES: tuple[type[PiplError], ...] = (
    PiplError,
    UsageError,
    ProjectError,
    ServerError,
    IndexServerError,
    CommandError,
    WorkspaceError,
    PacklError,
    FrameworkError,
    PipelineError,
    CiError,
    WaitTimeout,
)
