"""One CI job, in a process of its own: ``python -m pipl.ci.job SPEC``.

The runner writes the job's spec (JSON) and starts this module with the job's log file as
stdout and stderr, and the CI user's token in ``PIPL_CI_TOKEN`` (its only secret). The
outcome goes to ``result.json`` beside the spec, a channel handler code does not print
to; the exit code says the same: 0 passed, 1 failed, 75 retry later (infrastructure).

The spec's ``part`` says which part of a handler with a worker part runs (``pipl.ci.dask``):
``build`` on a Dask worker (no token, no project folder: the index at the spec's
``server_url`` is read anonymously; the handback goes to ``handback.json``), ``deliver``
on the runner's host with what the worker sent back (started while the worker builds, it
waits for ``handback.json``: ``pipl.ci.dask_jobs``); empty: the whole handler.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from pipl.ci.handlers import Handler, JobContext
    from pipl.ci.spec import JobSpec
    from pipl.project.project import Project
    from pipl.runner import Runner

EXIT_PASSED, EXIT_FAILED, EXIT_RETRY, EXIT_WAIT, EXIT_RESOURCES = 0, 1, 75, 76, 77
HANDBACK_POLL = 0.002  # seconds between two looks for the build part's files
TOKEN_ENV = "PIPL_CI_TOKEN"  # noqa: S105 - the variable's name, not a token


def _write_result(path: Path, state: str, message: str, **extra: Any) -> None:
    from pipl.fsutil import atomic_write

    atomic_write(path, json.dumps({"state": state, "message": message, **extra}))


def run(spec_path: Path, runner: Runner | None = None) -> int:
    from pipl.ci.handlers import (
        HandlerFailed,
        InfraError,
        JobContext,
        NeedsResources,
        NotYet,
        load,
    )
    from pipl.ci.spec import JobSpec
    from pipl.errors import (
        AuthError,
        Conflict,
        IndexServerError,
        NotFound,
        PiplError,
        ServerNotRunning,
    )
    from pipl.index.client import IndexClient
    from pipl.project.secrets import Token
    from pipl.runner import Runner

    runner = runner or Runner()
    spec = JobSpec.read(spec_path)
    result = spec_path.with_name("result.json")
    user, _, rest = os.environ.pop(TOKEN_ENV, "::").partition(":")
    token, _, expires = rest.rpartition(":")
    print(f"== pipl ci job {spec.job_id}: {spec.title}", flush=True)
    started = time.perf_counter()
    url: str | None = None  # the index server's, once the project is read
    try:
        handler = load(spec.handler)
        project = _project(spec, spec_path.parent)
        url = project.url
        with IndexClient(project.url) as client:
            if user and token and spec.part != "build":
                client.use_token(Token(user, token, float(expires or 0)))
            ctx = JobContext.from_spec(spec, project, client, runner)
            ctx.workdir.mkdir(parents=True, exist_ok=True)
            if spec.spawned:
                # from the runner starting this job to its handler starting: process start,
                # imports, loading the handler and the project
                ctx.log(f"phase start-up took {time.time() - spec.spawned:.2f} s")
            summary = _run_part(spec, handler, ctx, spec_path.parent)
    except NeedsResources as exc:  # a build part on a Dask worker: sent again
        print(f"== {exc}: the runner sends it to a worker that has them", flush=True)
        _write_result(result, "resources", str(exc), resources=exc.resources)
        return EXIT_RESOURCES
    except NotYet as exc:
        print(f"== waiting: {exc}", flush=True)
        _write_result(result, "wait", str(exc))
        return EXIT_WAIT
    except (InfraError, ServerNotRunning) as exc:
        print(f"== infrastructure error, will retry: {exc}", flush=True)
        _write_result(result, "retry", str(exc))
        return EXIT_RETRY
    except (Conflict, NotFound, AuthError) as exc:
        print(f"== failed: {exc}", flush=True)
        _write_result(result, "failed", str(exc))
        return EXIT_FAILED
    except IndexServerError as exc:
        status = getattr(exc, "status", None)
        retry = status is None or status >= 500
        print(f"== {'infrastructure error, will retry' if retry else 'failed'}: {exc}", flush=True)
        _write_result(result, "retry" if retry else "failed", str(exc))
        return EXIT_RETRY if retry else EXIT_FAILED
    except (HandlerFailed, PiplError) as exc:
        if _server_away(url):
            return _retry_later(result, f"{exc} (and the index server does not answer)")
        print(f"== failed: {exc}", flush=True)
        _write_result(result, "failed", str(exc))
        return EXIT_FAILED
    except Exception as exc:
        traceback.print_exc()
        if _is_transport_error(exc):
            message = f"the server connection failed: {type(exc).__name__}: {exc}"
            return _retry_later(result, message)
        if _server_away(url):
            message = f"{type(exc).__name__}: {exc} (and the index server does not answer)"
            return _retry_later(result, message)
        message = f"handler {spec.handler!r} raised {type(exc).__name__}: {exc}"
        print(f"== failed: {message}", flush=True)
        _write_result(result, "failed", message)
        return EXIT_FAILED
    seconds = time.perf_counter() - started
    print(f"== passed in {seconds:.2f}s: {summary}", flush=True)
    _write_result(result, "passed", str(summary))
    return EXIT_PASSED


def _project(spec: JobSpec, folder: Path) -> Project:
    """The project folder's ``Project``; on a Dask worker (the build part) a stand-in that
    knows only the index's URL and has no folder (``WorkerProject``)."""
    from pipl.project.project import Project

    if spec.part != "build":
        return Project.load(Path(spec.project_root))
    empty = folder / "no-project"  # what the sandbox hides: nothing here
    empty.mkdir(exist_ok=True)
    return cast(Project, WorkerProject(spec.server_url, empty))


class WorkerProject:
    """What a handler's build part sees of the project on a Dask worker: the index's URL.
    Anything else names itself in the job's error: the project folder is not there."""

    def __init__(self, url: str, root: Path) -> None:
        self.url, self.root = url, root

    def __getattr__(self, name: str) -> Any:
        from pipl.ci.handlers import CiError

        raise CiError(
            f"a handler's build part read project.{name}, which a Dask worker does not "
            "have (only the index URL): move that step to its deliver part"
        )


def _run_part(spec: JobSpec, handler: Handler, ctx: JobContext, folder: Path) -> str:
    """Run the spec's part of ``handler``: all of it, its build, or its deliver."""
    from pipl.ci.handback import HANDBACK, read_handback, write_handback

    if spec.part == "build":
        handback = handler.build(ctx)  # type: ignore[attr-defined]  # has_worker_part
        write_handback(folder, ctx.workdir, handback)
        return handback.summary or f"handed back {len(handback.files)} file(s)"
    if spec.part == "deliver":
        if spec.handback_wait:
            _await_handback(folder / HANDBACK, spec.handback_wait, ctx)
        summary: str = handler.deliver(  # type: ignore[attr-defined]  # has_worker_part
            ctx, read_handback(folder, ctx.workdir)
        )
        return summary
    return handler.run(ctx)


def _await_handback(path: Path, seconds: float, ctx: JobContext) -> None:
    """Wait for the build part's files (the runner writes ``handback.json`` last, once
    they are checked and in place). The runner stops this process when the build does
    not pass; the time limit is for a runner that went away meanwhile."""
    from pipl.ci.handlers import InfraError

    ctx.log("waiting for the build part on a Dask worker")
    started = time.perf_counter()
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise InfraError(f"the build part sent nothing back in {seconds:.0f}s")
        time.sleep(HANDBACK_POLL)
    ctx.log(f"phase wait for the build part took {time.perf_counter() - started:.2f} s")


def _retry_later(result: Path, message: str) -> int:
    print(f"== infrastructure error, will retry: {message}", flush=True)
    _write_result(result, "retry", message)
    return EXIT_RETRY


def _server_away(url: str | None) -> bool:
    """True when the index server does not answer now (or answers 5xx): a handler that
    failed while the server was away met an infrastructure error, whatever it made of it."""
    import httpx

    if not url:
        return False
    try:
        return httpx.get(f"{url}/+api", timeout=5.0).status_code >= 500
    except httpx.HTTPError:
        return True


def _is_transport_error(exc: BaseException) -> bool:
    import httpx

    return isinstance(exc, httpx.TransportError)


if __name__ == "__main__":
    # httpx imports its command-line client (rich, pygments, click) when it is imported;
    # a job never uses it, and skipping it halves the job's start-up time
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None blocks the import
    sys.exit(run(Path(sys.argv[1])))
