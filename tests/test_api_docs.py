"""What is made from the operations' declarations is current (docs/api.md's table, the
client's functions), every operation says what it does, and the client's methods are the
functions that carry the operations out, seen from the client."""

from __future__ import annotations

import inspect
import sys
import typing
from pathlib import Path

import pytest

from pipl.api import Client, codegen, ops
from pipl.api.client import operations

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def test_the_api_page_has_the_table_made_from_the_operations() -> None:
    assert ops.markdown() in DOC.read_text(), "docs/api.md is out of date: run 'make api'"


def test_the_client_functions_are_made_from_the_operations() -> None:
    made = codegen.client_modules()
    written = {path.name: path.read_text() for path in codegen.TARGET.glob("*.py")}
    assert written == made, "pipl/api/client/operations/ is out of date: run 'make api'"


def test_every_operation_is_a_documented_function_of_the_service() -> None:
    for op in ops.table().values():
        assert op.func.__module__.startswith("pipl.api.service."), op.name
        assert (op.func.__doc__ or "").strip(), f"{op.name} has no docstring"
        assert ops.op_of(op.func) is op


def test_each_client_function_has_the_service_function_s_parameters_and_result() -> None:
    for op in ops.table().values():
        made = getattr(operations, codegen.function_name(op))
        theirs = list(inspect.signature(op.func).parameters.values())[1:]
        ours = list(inspect.signature(made).parameters.values())[1:]
        assert [(p.name, p.default) for p in ours] == [(p.name, p.default) for p in theirs]
        module = sys.modules[made.__module__]
        made_return = typing.get_type_hints(made, {**vars(module), "Sender": object})["return"]
        assert made_return == typing.get_type_hints(op.func)["return"]
        route = getattr(module, codegen.function_name(op).upper())
        assert (route.name, route.method, route.path) == (op.name, op.method, op.path)


def test_a_client_method_is_the_operation_seen_from_the_client() -> None:
    client = Client.__new__(Client)
    client._setup()
    method = client.jobs.get
    assert method.__doc__ == ops.table()["jobs.get"].func.__doc__
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
