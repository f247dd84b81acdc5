"""How pipl-pipe's helper modules answer pipl: through a result file, never through stdout.

pipl runs ``python -m pipl_pipe.MODULE ARGS --result PATH`` in a workspace. Packl code
that the module imports or calls (an envset, a task's processing) may print anything:
pipl reads only PATH, which holds one JSON object::

    {"ok": true, "data": ...}            the answer
    {"ok": false, "error": "one line"}   what went wrong, for pipl's error message

When packl code raises, its traceback goes to stderr (for the user) and the error line to
PATH (for pipl). Without ``--result`` the modules print for people, as before.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipl_pipe.errors import PipeError
from pipl_pipe.fsutil import atomic_write

RESULT_OPTION = "--result"


def split_result(args: Sequence[str]) -> tuple[list[str], Path | None]:
    """``args`` without ``--result PATH``, and PATH (None when it is not given)."""
    rest = list(args)
    if RESULT_OPTION not in rest:
        return rest, None
    at = rest.index(RESULT_OPTION)
    if at + 1 >= len(rest):
        raise SystemExit(f"{RESULT_OPTION} needs a file path")
    path = Path(rest[at + 1])
    del rest[at : at + 2]
    return rest, path


def write(path: Path, *, data: Any = None, error: str | None = None) -> None:
    answer = {"ok": False, "error": error} if error is not None else {"ok": True, "data": data}
    atomic_write(path, json.dumps(answer, default=str))


def respond(path: Path, compute: Callable[[], Any]) -> int:
    """Write ``compute()``'s value, or the error it raised, to the result file ``path``."""
    try:
        data = compute()
    except PipeError as exc:
        write(path, error=str(exc))
        return 1
    except Exception as exc:  # packl code failed: its traceback for the user, a line for pipl
        traceback.print_exc(file=sys.stderr)
        write(path, error=f"{type(exc).__name__}: {exc}")
        return 1
    write(path, data=data)
    return 0
