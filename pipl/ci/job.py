"""One CI job, in a process of its own: ``python -m pipl.ci.job SPEC``.

The runner writes the job's spec (JSON) and starts this module with the job's log file as
stdout and stderr, and the CI user's token in ``PIPL_CI_TOKEN`` (its only secret). The
outcome goes to ``result.json`` beside the spec, a channel handler code does not print
to; the exit code says the same: 0 passed, 1 failed, 75 retry later (infrastructure).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipl.runner import Runner

EXIT_PASSED, EXIT_FAILED, EXIT_RETRY, EXIT_WAIT = 0, 1, 75, 76
TOKEN_ENV = "PIPL_CI_TOKEN"  # noqa: S105 - the variable's name, not a token


def _write_result(path: Path, state: str, message: str) -> None:
    from pipl.fsutil import atomic_write

    atomic_write(path, json.dumps({"state": state, "message": message}))


def run(spec_path: Path, runner: Runner | None = None) -> int:
    from pipl.ci.handlers import HandlerFailed, InfraError, JobContext, NotYet, load
    from pipl.errors import (
        AuthError,
        Conflict,
        IndexServerError,
        NotFound,
        PiplError,
        ServerNotRunning,
    )
    from pipl.index.client import IndexClient
    from pipl.project.config import parse_sandbox
    from pipl.project.project import Project
    from pipl.project.secrets import Token
    from pipl.runner import Runner

    runner = runner or Runner()
    spec: dict[str, Any] = json.loads(spec_path.read_text())
    result = spec_path.with_name("result.json")
    user, _, rest = os.environ.pop(TOKEN_ENV, "::").partition(":")
    token, _, expires = rest.rpartition(":")
    print(
        f"== pipl ci job {spec['job_id']}: {spec['handler']} for {spec['project']} "
        f"{spec['version']} ({spec['filename']}) on {spec['index']}, attempt {spec['attempt']}",
        flush=True,
    )
    started = time.perf_counter()
    url: str | None = None  # the index server's, once the project is read
    try:
        handler = load(spec["handler"])
        project = Project.load(Path(spec["project_root"]))
        url = project.url
        with IndexClient(project.url) as client:
            if user and token:
                client.use_token(Token(user, token, float(expires or 0)))
            ctx = JobContext(
                job_id=spec["job_id"],
                handler=spec["handler"],
                project=project,
                index=spec["index"],
                name=spec["project"],
                version=spec["version"],
                filename=spec["filename"],
                sha256=spec["sha256"],
                index_config=spec["index_config"],
                client=client,
                workdir=Path(spec["workdir"]),
                runner=runner,
                gates=spec.get("gates", {}),
                created=float(spec.get("created", 0.0)),
                sandbox=parse_sandbox(spec.get("sandbox")),
            )
            ctx.workdir.mkdir(parents=True, exist_ok=True)
            if spec.get("spawned"):
                # from the runner starting this job to its handler starting: process start,
                # imports, loading the handler and the project
                ctx.log(f"phase start-up took {time.time() - float(spec['spawned']):.2f} s")
            summary = handler.run(ctx)
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
        message = f"handler {spec['handler']!r} raised {type(exc).__name__}: {exc}"
        print(f"== failed: {message}", flush=True)
        _write_result(result, "failed", message)
        return EXIT_FAILED
    seconds = time.perf_counter() - started
    print(f"== passed in {seconds:.2f}s: {summary}", flush=True)
    _write_result(result, "passed", str(summary))
    return EXIT_PASSED


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
