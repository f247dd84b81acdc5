"""``pipl/api/client/operations.py``, written from the operations' declarations.

Each operation becomes one typed function of the client, ``jobs_get(client, id) -> Job``:
its parameters and defaults, its result type and its docstring are those of the function
of ``pipl.api.service`` that carries it out, and its route comes from ``@operation``.
The module imports only the route type and the result dataclasses, so a remote client
needs nothing of the project's side (no devpi, no packaging). ``make api`` writes it;
``tests/test_api_docs.py`` checks it is current.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pipl.api import ops

TARGET = Path(__file__).resolve().parent / "client" / "operations.py"
PLAIN = (str, int, float, bool, bytes)
GENERIC = {list: "builtins.list", dict: "dict", tuple: "tuple", set: "set"}

HEADER = '''"""The operations of pipl's API as typed functions of a client, one per operation.

Written by ``make api`` (``pipl.api.codegen``) from the functions of ``pipl.api.service``
that carry the operations out: change those, not this file. ``pipl.Client``'s methods
are these functions (``remote``), or call them.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from pipl.api.models import value_of
from pipl.api.ops import Route
{imports}

if TYPE_CHECKING:
    from pipl.api.client.remote import Sender
'''


def function_name(op: ops.Op) -> str:
    """``jobs.get`` -> ``jobs_get``."""
    return op.name.replace(".", "_")


def render(hint: Any, imports: set[tuple[str, str]]) -> str:
    """The annotation text of ``hint``, noting the imports it needs."""
    if hint is type(None):
        return "None"
    if hint is Any:
        return "Any"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(render(arg, imports) for arg in args)
    if origin in GENERIC:
        return f"{GENERIC[origin]}[{', '.join(render(arg, imports) for arg in args)}]"
    if hint in PLAIN:
        return str(hint.__name__)
    if isinstance(hint, type) and hint.__module__.startswith("pipl.api."):
        imports.add((hint.__module__, hint.__name__))
        return hint.__name__
    raise TypeError(f"no client annotation for {hint!r}: use a type of pipl.api's modules")


def function(op: ops.Op, imports: set[tuple[str, str]]) -> str:
    hints = typing.get_type_hints(op.func)
    params = list(inspect.signature(op.func).parameters.values())[1:]  # after ctx
    args = ["client: Sender"]
    for param in params:
        text = f"{param.name}: {render(hints[param.name], imports)}"
        if param.default is not inspect.Parameter.empty:
            text += f" = {param.default!r}"
        args.append(text)
    result = render(hints["return"], imports)
    doc = (inspect.getdoc(op.func) or op.summary).replace("\\", "\\\\").replace('"""', "'''")
    doc = doc.replace("\n", "\n    ").replace("\n    \n", "\n\n")
    sent = ", ".join(f'"{p.name}": {p.name}' for p in params)
    constant = function_name(op).upper()
    return (
        f'{constant} = Route("{op.name}", "{op.method}", "{op.path}")\n\n\n'
        f"def {function_name(op)}({', '.join(args)}) -> {result}:\n"
        f'    """{doc}"""\n'
        f"    answer: {result} = value_of({result}, client.send({constant}, {{{sent}}}))\n"
        f"    return answer\n"
    )


def client_module() -> str:
    """The text of ``operations.py`` (formatted by ruff, like the rest of the code)."""
    imports: set[tuple[str, str]] = set()
    bodies = [function(op, imports) for op in ops.table().values()]
    modules: dict[str, list[str]] = {}
    for module, name in sorted(imports):
        modules.setdefault(module, []).append(name)
    lines = "\n".join(f"from {m} import {', '.join(sorted(n))}" for m, n in modules.items())
    text = HEADER.format(imports=lines) + "\n\n" + "\n\n".join(bodies)
    return format_python(text)


def format_python(text: str) -> str:
    """``text`` as ``ruff format`` and ``ruff check --fix`` leave it (the project's style)."""
    ruff = Path(sys.executable).parent / "ruff"
    for args in (["check", "--fix-only", "--quiet", "--select", "I"], ["format"]):
        text = subprocess.run(
            [ruff, *args, "--stdin-filename", str(TARGET), "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return text


def write(target: Path = TARGET) -> bool:
    """Write ``operations.py``; whether it changed."""
    from pipl.fsutil import atomic_write

    text = client_module()
    if target.exists() and target.read_text() == text:
        return False
    atomic_write(target, text)
    return True


if __name__ == "__main__":
    print(f"{TARGET}: {'written' if write() else 'up to date'}")
