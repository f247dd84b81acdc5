"""``pipl/api/client/operations/``, written from the operations' declarations.

Each operation becomes one typed function of the client, ``jobs_get(client, id) -> Job``:
its parameters and defaults, its result type and its docstring are those of the function
of ``pipl.api.service`` that carries it out, and its route comes from ``@operation``.
There is one module per domain (``jobs``, ``releases``...; ``admin`` for the top-level
``health``, ``whoami``, ``login``) and a package that gathers them. They import only the
route type and the result dataclasses, so a remote client needs nothing of the project's
side (no devpi, no packaging). ``make api`` writes them; ``tests/test_api_docs.py``
checks they are current.
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

TARGET = Path(__file__).resolve().parent / "client" / "operations"
PLAIN = (str, int, float, bool, bytes)
GENERIC = {list: "builtins.list", dict: "dict", tuple: "tuple", set: "set"}

HEADER = '''"""The {domain} operations of pipl's API as typed functions of a client, one each.

Written by ``make api`` (``pipl.api.codegen``) from the functions of ``pipl.api.service``
that carry the operations out: change those, not this file.
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


PACKAGE = '''"""The operations of pipl's API as typed functions of a client, one per operation.

Written by ``make api`` (``pipl.api.codegen``) from the functions of ``pipl.api.service``
that carry the operations out: change those, not these files. ``pipl.Client``'s methods
are these functions (``remote``), or call them.
"""

{imports}

__all__ = [{names}]
'''


def domain_of(op: ops.Op) -> str:
    """The module an operation's client function is written to."""
    return op.name.split(".", 1)[0] if "." in op.name else "admin"


def client_modules() -> dict[str, str]:
    """The text of each file of ``operations/`` by name (formatted by ruff, like the rest
    of the code)."""
    domains: dict[str, list[ops.Op]] = {}
    for op in ops.table().values():
        domains.setdefault(domain_of(op), []).append(op)
    files = {f"{domain}.py": _module(domain, found) for domain, found in domains.items()}
    package = "pipl.api.client.operations"
    imports = "\n".join(
        f"from {package}.{domain} import {', '.join(function_name(op) for op in found)}"
        for domain, found in domains.items()
    )
    names = ", ".join(f'"{function_name(op)}"' for found in domains.values() for op in found)
    files["__init__.py"] = format_python(PACKAGE.format(imports=imports, names=names))
    return files


def _module(domain: str, found: list[ops.Op]) -> str:
    imports: set[tuple[str, str]] = set()
    bodies = [function(op, imports) for op in found]
    modules: dict[str, list[str]] = {}
    for module, name in sorted(imports):
        modules.setdefault(module, []).append(name)
    lines = "\n".join(f"from {m} import {', '.join(sorted(n))}" for m, n in modules.items())
    text = HEADER.format(domain=domain, imports=lines) + "\n\n" + "\n\n".join(bodies)
    return format_python(text)


def format_python(text: str) -> str:
    """``text`` as ``ruff format`` and ``ruff check --fix`` leave it (the project's style)."""
    ruff = Path(sys.executable).parent / "ruff"
    fixes = ["--select", "I,F401,RUF022"]  # imports sorted, the unused ones out, __all__ sorted
    for args in (["check", "--fix-only", "--quiet", *fixes], ["format"]):
        text = subprocess.run(
            [ruff, *args, "--stdin-filename", str(TARGET / "module.py"), "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return text


def write(target: Path = TARGET) -> bool:
    """Write the files of ``operations/`` (and remove any other module there); whether
    something changed."""
    from pipl.fsutil import atomic_write

    files = client_modules()
    target.mkdir(exist_ok=True)
    changed = False
    for stale in target.glob("*.py"):
        if stale.name not in files:
            stale.unlink()
            changed = True
    for name, text in files.items():
        path = target / name
        if not path.exists() or path.read_text() != text:
            atomic_write(path, text)
            changed = True
    return changed


if __name__ == "__main__":
    print(f"{TARGET}: {'written' if write() else 'up to date'}")
