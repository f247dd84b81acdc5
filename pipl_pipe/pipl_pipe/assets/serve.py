"""The environment's asset store, served to another process: ``python -m pipl_pipe.assets.serve``.

pipl runs this where the project's store provider is installed (a workspace, or the
project's store environment) when that provider is not installed beside pipl itself, so
that pipl's commands use the very store the packls use.

Requests are JSON lines on stdin: ``{"op": "put", "args": ["/abs/path"]}``. Answers are
JSON lines on the process's original stdout, which is taken away from everything else
first: whatever the provider's code prints goes to stderr. The first answer names the
store: ``{"ok": {"url": ...}}``; then one answer per request, ``{"ok": VALUE}`` or
``{"error": "AssetMissing", "message": ...}`` (a ``pipl_pipe.errors`` class name).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipl_pipe import errors
from pipl_pipe.assets.objects import AssetStore

OPS: dict[str, Callable[..., Any]] = {
    "put": lambda store, path: vars(store.put(Path(path))),
    "has": lambda store, sha: store.has(sha),
    "fetch": lambda store, sha, dest, kind: str(store.fetch(sha, Path(dest), kind)),
    "verify": lambda store, sha: store.verify(sha),
    "kind_of": lambda store, sha: store.kind_of(sha),
    "read_tree": lambda store, sha: store.read_tree(sha),
    "mtime": lambda store, sha: store.mtime(sha),
    "age": lambda store, sha: store.age(sha),
    "objects": lambda store: [list(item) for item in store.objects()],
    "remove": lambda store, sha, older_than=None: store.remove(sha, older_than=older_than),
}


def error_name(exc: BaseException) -> str:
    """The nearest ``pipl_pipe.errors`` class of ``exc`` (``PipeError`` for any other)."""
    for cls in type(exc).__mro__:
        if getattr(errors, cls.__name__, None) is cls and issubclass(cls, errors.PipeError):
            name: str = cls.__name__
            return name
    return "PipeError"


def _failure(exc: BaseException) -> dict[str, str]:
    message = str(exc) if isinstance(exc, errors.PipeError) else f"{type(exc).__name__}: {exc}"
    return {"error": error_name(exc), "message": message}


def serve(store_factory: Callable[[], AssetStore]) -> int:
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # fd 1 (and so every print) now goes to stderr
    sys.stdout = sys.stderr

    def answer(value: dict[str, Any]) -> None:
        answers.write(json.dumps(value) + "\n")
        answers.flush()

    try:
        store = store_factory()
    except Exception as exc:  # any failure of the provider is answered, by name
        answer(_failure(exc))
        return 1
    answer({"ok": {"url": store.url}})
    for line in sys.stdin:
        try:
            request = json.loads(line)
            op, args = OPS[request["op"]], list(request.get("args", []))
        except (KeyError, TypeError, ValueError) as exc:
            answer({"error": "PipeError", "message": f"bad request {line.strip()!r}: {exc}"})
            continue
        try:
            answer({"ok": op(store, *args)})
        except Exception as exc:  # answered by name; the store stays up
            answer(_failure(exc))
    close = getattr(store, "close", None)
    if callable(close):
        close()
    return 0


def main() -> int:
    from pipl_pipe.services import get_services

    return serve(lambda: get_services().asset_store)


if __name__ == "__main__":
    # run the imported module, not this __main__ copy (see pipl_pipe.products)
    from pipl_pipe.assets.serve import main as _main

    raise SystemExit(_main())
