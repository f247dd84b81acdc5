"""docs/api.md lists exactly the operations of pipl's API, as their functions declare them,
and every operation says what it does; the client's methods are those functions."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from pipl.api import Client, ops

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def test_the_api_page_has_the_table_made_from_the_operations() -> None:
    text = DOC.read_text()
    assert ops.markdown() in text, "docs/api.md is out of date: run 'make docs'"


def test_every_operation_is_a_documented_function_of_the_service() -> None:
    for op in ops.table().values():
        assert op.func.__module__.startswith("pipl.api.service."), op.name
        assert (op.func.__doc__ or "").strip(), f"{op.name} has no docstring"
        assert ops.op_of(op.func) is op


def test_a_client_method_is_the_operation_seen_from_the_client() -> None:
    client = Client.__new__(Client)
    client._client = client
    client._setup()
    method = client.jobs.get
    service_func = ops.table()["jobs.get"].func
    assert method.__doc__ == service_func.__doc__
    assert list(inspect.signature(method).parameters) == ["id"]
    # a call that does not fit the function's signature fails before anything is sent
    with pytest.raises(TypeError):
        client.jobs.get(1, 2)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="not an operation"):
        ops.op_of(len)


def test_a_fixed_path_is_routed_before_a_parameter_in_the_same_place() -> None:
    found = ops.find("GET", "/api/v1/jobs/triggered")
    assert found is not None and found[0].name == "jobs.triggered"
    found = ops.find("GET", "/api/v1/jobs/12")
    assert found is not None and found[0].name == "jobs.get" and found[1] == {"id": "12"}
