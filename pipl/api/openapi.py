"""The API's OpenAPI document (3.1), made from what the server routes with: each
operation of ``pipl.api.ops`` and the signature of the function carrying it out.
The runner serves it at ``/api/v1/openapi.json``.

Parameters follow ``service.coerce``: path parameters from the operation's path, the
others in the query string (GET; a list is comma-separated) or as the properties of a
JSON object body (POST); their types come from the function's annotations. Every answer
is ``{"result": ...}`` or ``{"error": {"kind": ..., "message": ...}}``.
"""

from __future__ import annotations

import inspect
import types
import typing
from pathlib import Path
from typing import Any

from pipl.api import ops
from pipl.errors import UsageError
from pipl.fsutil import atomic_write

AUTH = "devpiAuth"
ERROR_STATUSES = {
    "400": "the request is malformed (a parameter's type or value)",
    "401": "the operation needs a logged-in user",
    "403": "the caller may not do this",
    "404": "no such thing (or the caller may not read it)",
    "405": "another method is expected on this path",
    "409": "the request conflicts with the project's state",
    "413": "the body is too large",
    "502": "the index server failed or did not answer",
    "503": "the server or the sandbox is not available",
    "504": "a wait timed out",
}


def document(version: str) -> dict[str, Any]:
    """The OpenAPI document of pipl ``version``'s API."""
    paths: dict[str, dict[str, Any]] = {}
    for op in ops.table().values():
        path = op.path.replace("*}", "}")
        paths.setdefault(path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pipl",
            "version": version,
            "description": "The CI jobs, releases, pipelines and products of a pipl project.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                AUTH: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Devpi-Auth",
                    "description": "base64 of 'USER:TOKEN', a devpi login token",
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "kind": {"type": "string"},
                                "message": {"type": "string"},
                            },
                            "required": ["kind", "message"],
                        }
                    },
                    "required": ["error"],
                }
            },
        },
    }


def _operation(op: ops.Op) -> dict[str, Any]:
    handler = op.func
    hints = typing.get_type_hints(handler)
    in_path = set(op.path_params)
    parameters: list[dict[str, Any]] = []
    body: dict[str, Any] = {}
    required: list[str] = []
    for param in list(inspect.signature(handler).parameters.values())[1:]:  # after ctx
        hint = hints.get(param.name, str)
        needed = param.default is inspect.Parameter.empty
        if param.name in in_path:
            parameters.append(
                {"name": param.name, "in": "path", "required": True, "schema": _schema(hint)}
            )
        elif op.method == "GET":
            query = {"name": param.name, "in": "query", "required": needed}
            schema = _schema(hint, nullable=False)
            if schema.get("type") == "array":
                query.update(style="form", explode=False)
            parameters.append({**query, "schema": schema})
        else:
            body[param.name] = _schema(hint)
            if needed:
                required.append(param.name)
    answer: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.summary,
        "description": inspect.getdoc(handler) or "",
        "tags": [op.name.partition(".")[0]],
        "parameters": parameters,
        "security": [{}, {AUTH: []}] if op.access == "read" else [{AUTH: []}],
        "responses": {
            "200": {
                "description": "the operation's result",
                "content": {
                    "application/json": {"schema": {"type": "object", "properties": {"result": {}}}}
                },
            },
            **{
                status: {
                    "description": why,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
                for status, why in ERROR_STATUSES.items()
            },
        },
    }
    if op.method == "POST":
        answer["requestBody"] = {
            "required": bool(required),
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": body,
                        "required": required,
                        "additionalProperties": False,
                    }
                }
            },
        }
    return answer


def _schema(hint: Any, *, nullable: bool = True) -> dict[str, Any]:
    """The JSON schema of a parameter annotated ``hint``."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = [a for a in args if a is not type(None)]
        inner = _schema(kinds[0], nullable=nullable) if len(kinds) == 1 else {}
        if nullable and type(None) in args:
            return {"anyOf": [inner, {"type": "null"}]}
        return inner
    origin = typing.get_origin(hint) or hint
    if origin is bool:
        return {"type": "boolean"}
    if origin is int:
        return {"type": "integer"}
    if origin is float:
        return {"type": "number"}
    if origin is str:
        return {"type": "string"}
    if origin in (list, tuple):
        item = _schema(args[0], nullable=False) if args else {}
        return {"type": "array", "items": item}
    if origin is dict:
        return {"type": "object"}
    return {}


def write_docs(path: Path) -> bool:
    """Put the table of operations (``ops.markdown()``) in the page at ``path`` between its
    markers; whether the page changed."""
    text = path.read_text()
    start, end = "<!-- the operations:", "<!-- end of the operations -->"
    head, found, rest = text.partition(start)
    if not found or end not in rest:
        raise UsageError(f"{path} has no '{start} ... {end}' markers for the table")
    marker_line, _, after = rest.partition("\n")
    tail = after.partition(end)[2]
    new = f"{head}{start}{marker_line}\n{ops.markdown()}{end}{tail}"
    if new == text:
        return False
    atomic_write(path, new)
    return True


if __name__ == "__main__":
    import sys

    page = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/api.md")
    print(f"{page}: {'written' if write_docs(page) else 'up to date'}")
