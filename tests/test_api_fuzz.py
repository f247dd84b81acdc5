"""The HTTP API fuzzed from its own OpenAPI document (schemathesis): whatever a request
carries, the server answers it with a result or a one-kind error, never a 500. The
requests come from a logged-in user who is not the project's owner (owner operations are
refused before their body is read) and from anonymous callers."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from pipl.index.client import IndexClient
from pipl.index.session import connect
from pipl.index.users import add_user
from pipl.project.project import Project

FUZZER, PASSWORD = "api-fuzzer", "api-fuzzer-password-1"
EXAMPLES = 12  # per operation and caller


@pytest.fixture(scope="module")
def fuzzer_auth(project: Project) -> Iterator[str]:
    """The ``X-Devpi-Auth`` header of a logged-in user who is not the owner."""
    with connect(project, "admin") as admin:
        if FUZZER not in admin.users():
            add_user(admin, FUZZER, PASSWORD)
    with IndexClient(project.url) as client:
        token = client.login(FUZZER, PASSWORD)
    yield base64.b64encode(f"{token.user}:{token.token}".encode()).decode()


def test_the_document_describes_every_operation(web: str) -> None:
    from pipl.api import ops

    doc = httpx.get(f"{web}/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    found = {
        op["operationId"]: (method.upper(), path)
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }
    assert found == {o.name: (o.method, o.path.replace("*}", "}")) for o in ops.table().values()}
    # parameters come from the functions carrying the operations out
    [jobs_list] = [
        item["get"]
        for item in doc["paths"].values()
        if "get" in item and item["get"]["operationId"] == "jobs.list"
    ]
    limit = next(p for p in jobs_list["parameters"] if p["name"] == "limit")
    assert limit == {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer"},
    }


def test_no_input_makes_the_server_fail(web: str, fuzzer_auth: str) -> None:
    """Every operation, each with ``EXAMPLES`` generated requests per caller."""
    schema = schemathesis.openapi.from_url(f"{web}/api/v1/openapi.json")
    failures: list[str] = []
    tried = 0
    for found in schema.get_all_operations():
        operation = found.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: schemathesis.Case) -> None:
            for headers in ({"X-Devpi-Auth": fuzzer_auth}, {}):
                case.call_and_validate(headers=headers, checks=[not_a_server_error], timeout=30)

        try:
            fuzz()
        except Exception as exc:  # the failing example, as hypothesis shrank it
            failures.append(f"{operation.label}: {str(exc)[:2000]}")
        tried += 1
    assert tried >= 40, tried
    assert not failures, "\n\n".join(failures)
