"""pipl's one error table (pipl.errors): a distinct exit code per family from the CLI, and
each error raised in the project's server comes back to ``pipl.Client`` over HTTP as the
class it was raised as, with the status the table gives it."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import httpx
import pytest
from helpers import fails, run
from jobs_support import insert_job, live_runner

from pipl import Client, errors
from pipl.api import ops, service
from pipl.project.project import Project

PIPL = Path(errors.__file__).parent

# every error class of the table, each with its message
ALL = sorted(
    (cls for cls in vars(errors).values() if isinstance(cls, type)),
    key=lambda cls: cls.__name__,
)
ALL = [cls for cls in ALL if issubclass(cls, errors.PiplError)]


def family_of(cls: type[errors.PiplError]) -> type[errors.PiplError]:
    return next(root for root in reversed(errors.FAMILIES) if issubclass(cls, root))


def test_each_family_has_an_exit_code_of_its_own() -> None:
    codes = [family.exit_code for family in errors.FAMILIES]
    assert codes == sorted(set(codes)) == list(range(1, 13))
    for cls in ALL:  # a class exits as its family does
        assert cls.exit_code == family_of(cls).exit_code, cls
    # the three that shared 10 are apart now
    assert len({errors.PipelineError.exit_code, errors.CiError.exit_code}) == 2
    assert errors.WaitTimeout.exit_code not in (errors.CiError.exit_code, 10)


def test_every_class_is_in_the_documented_table() -> None:
    """Each class is on one row of the table in pipl/errors.py, with its family's exit
    code and its own HTTP status."""
    rows = [line.split(None, 3) for line in (errors.__doc__ or "").splitlines()]
    rows = [row for row in rows if len(row) == 4 and row[0].isdigit()]
    for cls in ALL:
        found = [row for row in rows if cls.__name__ in row[3].replace(",", " ").split()]
        assert len(found) == 1, f"{cls.__name__}: {len(found)} rows in pipl/errors.py"
        exit_code, family, status, _ = found[0]
        assert int(exit_code) == cls.exit_code and family == family_of(cls).__name__, cls
        assert int(status) == cls.http_status, cls


def test_the_readme_lists_each_family_with_its_exit_code_and_status() -> None:
    readme = (PIPL.parent / "README.md").read_text()
    section = readme.split("## Errors and exit codes", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| ")]
    listed = {
        name.strip().strip("`"): (int(code), int(status.split()[0]))
        for code, name, _, status in (row for row in rows if row[0].strip().isdigit())
    }
    assert listed == {f.__name__: (f.exit_code, f.http_status) for f in errors.FAMILIES}


def test_every_pipl_error_class_lives_in_pipl_errors() -> None:
    """No module of pipl defines an error class of the family outside pipl/errors.py
    (the old import paths, such as pipl.ci.handlers.CiError, name the same classes)."""
    names = {cls.__name__ for cls in ALL}
    elsewhere = []
    for path in PIPL.rglob("*.py"):
        if path.name == "errors.py" and path.parent == PIPL:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases}
                if bases & names:
                    elsewhere.append(f"{path.relative_to(PIPL)}: {node.name}")
    assert not elsewhere
    from pipl.api.jobs import WaitTimeout
    from pipl.assets.gc import GcRefused
    from pipl.ci.handlers import CiError, HandlerFailed, InfraError, NotYet
    from pipl.ci.sandbox import Rejected, SandboxUnavailable
    from pipl.project.server import AlreadyRunning

    moved = (WaitTimeout, GcRefused, CiError, HandlerFailed, InfraError, NotYet, Rejected)
    assert all(cls.__module__ == "pipl.errors" for cls in moved)
    assert SandboxUnavailable is errors.SandboxUnavailable
    assert AlreadyRunning is errors.AlreadyRunning


# -- the CLI ---------------------------------------------------------------------------------
@pytest.mark.parametrize("family", errors.FAMILIES, ids=lambda cls: cls.__name__)
def test_a_command_exits_with_its_errors_family_code(
    project: Project, monkeypatch: pytest.MonkeyPatch, family: type[errors.PiplError]
) -> None:
    """The error of any family, raised inside a real command, is one ``Error:`` line and
    the family's exit code."""
    from pipl.index import status

    def broken(project: Project) -> None:
        raise family(f"a {family.__name__} inside 'proj status'")

    monkeypatch.setattr(status, "server_status", broken)
    result = run(["proj", "status"], project=project.root)
    fails(result, family.exit_code, f"a {family.__name__} inside")


def test_real_failures_exit_with_their_familys_code(project: Project, tmp_path: Path) -> None:
    fails(run(["proj", "status"], project=tmp_path), 3, "pipl.toml")  # no project there
    fails(run(["ci", "wait", "errs-pkg", "1.0"], project=project.root), 11, "not running")
    fails(run(["proj", "index", "create", "no/such/thing"], project=project.root), 2)


def test_ci_wait_tells_a_timeout_from_a_failed_job(
    project: Project, fake_site: Path, tmp_path: Path
) -> None:
    """``pipl ci wait`` exits 12 (WaitTimeout) when it gives up waiting, 11 (CiError)
    when a job it waited for failed."""
    insert_job(project, project.stage_index(), "errs-failed", "1.0", "qa", "failed")
    with live_runner(project, fake_site):
        result = run(["ci", "wait", "errs-failed", "1.0"], project=project.root)
        fails(result, errors.CiError.exit_code, "did not pass", "pipl ci logs")
        result = run(["ci", "wait", "errs-failed", "1.0", "--timeout", "0"], project=project.root)
        fails(result, errors.WaitTimeout.exit_code, "not finished after 0s")
        # a job that runs on: waiting for all jobs times out too
        stage = project.stage_index()
        busy = insert_job(project, stage, "errs-forever", "1.0", "slowlog", "queued")
        try:
            result = run(["ci", "wait", "--timeout", "1"], project=project.root)
            fails(result, errors.WaitTimeout.exit_code, "still queued or running after 1s")
        finally:
            with Client.from_project(project.root) as client:
                client.jobs.cancel(busy)


# -- over HTTP ---------------------------------------------------------------------------------
@pytest.fixture
def raising(monkeypatch: pytest.MonkeyPatch):
    """Make the server's ``health`` operation raise the error it is given."""

    def use(error: Exception) -> None:
        def health(ctx: service.Context) -> None:
            raise error

        op = dataclasses.replace(ops.table()["health"], func=health)
        monkeypatch.setitem(ops.table(), "health", op)

    return use


@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_each_error_comes_back_over_http_as_raised(
    web: str, raising, cls: type[errors.PiplError]
) -> None:
    message = f"{cls.__name__} raised in the server: do this next"
    raising(cls(message))
    answer = httpx.get(f"{web}/api/v1/health")
    assert answer.status_code == errors.http_status(cls(message))
    assert answer.json() == {"error": {"kind": cls.__name__, "message": message}}
    with Client(web) as client, pytest.raises(errors.PiplError) as caught:
        client.health()
    assert type(caught.value) is cls and str(caught.value) == message
    assert caught.value.exit_code == family_of(cls).exit_code


def test_a_ci_error_stays_a_ci_error_over_http(web: str, raising) -> None:
    raising(errors.HandlerFailed("the release did not pass"))
    with Client(web) as client, pytest.raises(errors.CiError, match="did not pass") as caught:
        client.health()
    assert isinstance(caught.value, errors.HandlerFailed)
    assert not isinstance(caught.value, errors.IndexServerError)


def test_a_refusal_of_devpi_keeps_its_status_and_a_failure_is_a_bad_gateway(
    web: str, raising
) -> None:
    raising(errors.IndexServerError("devpi: bad request (HTTP 400)", status=400))
    answer = httpx.get(f"{web}/api/v1/health")
    assert answer.status_code == 400 and answer.json()["error"]["kind"] == "IndexServerError"
    with Client(web) as client, pytest.raises(errors.IndexServerError) as caught:
        client.health()
    assert caught.value.status == 400
    raising(errors.IndexServerError("devpi: internal error (HTTP 500)", status=500))
    assert httpx.get(f"{web}/api/v1/health").status_code == 502


def test_an_error_of_the_framework_is_a_framework_error_over_http(web: str, raising) -> None:
    from pipl_pipe.errors import AssetCorrupted

    raising(AssetCorrupted("asset 1234 does not match its hash"))
    with Client(web) as client, pytest.raises(errors.FrameworkError, match="does not match"):
        client.health()


def test_a_real_refusal_comes_back_as_its_class(project: Project, web: str) -> None:
    with Client(web) as client:
        with pytest.raises(errors.NotFound) as caught:
            client.jobs.get(999_999_999)
        assert caught.value.status == 404
        with pytest.raises(errors.AuthError) as caught:
            client.users.add("errs-someone", "a-password-1")
        assert type(caught.value) is errors.AuthError and caught.value.status == 401
