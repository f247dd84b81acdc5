"""The owner's QA checks of a release, in the release's environment:
``python -m pipl_pipe.qa_check NAME VERSION (--policy DIST | --contract KIND) --result PATH``.

``--policy DIST``: every ``pipl.qa_checks`` entry point of the installed packl DIST
(``name = "module:function"``) is called with the release's distribution name and version
(installed in the same environment, for the function to inspect with
``importlib.metadata`` and imports). It passes by returning None or True; it fails by
raising or by returning anything else (a message).

``--contract KIND``: pipl's kind contract of a packl: its module imports, its ``check()``
(where it has one) returns true, a ``task`` has a ``pipl.process`` entry point or a
``check()``, a ``pipeline`` a ``pipl_pipe.pipeline`` entry point.

The answer (``pipl_pipe.answer``) is a list of ``{"check", "value", "passed",
"message"}``, one per check.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata as md
import sys
import traceback
from collections.abc import Callable
from typing import Any

from pipl_pipe.answer import respond, split_result
from pipl_pipe.entrypoints import normalize
from pipl_pipe.errors import PipeError

QA_CHECKS_GROUP = "pipl.qa_checks"


def _outcome(name: str, value: str, call: Callable[[], Any]) -> dict[str, Any]:
    try:
        returned = call()
    except Exception as exc:  # the check failed: its traceback for the log, a line here
        traceback.print_exc(file=sys.stderr)
        return {"check": name, "value": value, "passed": False, "message": f"{exc!r}"}
    passed = returned is None or returned is True
    message = "" if passed else str(returned)
    return {"check": name, "value": value, "passed": passed, "message": message}


def policy(name: str, version: str, dist: str) -> list[dict[str, Any]]:
    """The checks of policy packl ``dist`` run on release ``name version``."""
    installed = md.version(name)
    if installed != version:
        raise PipeError(f"{name} {installed} is installed, not {version}")
    points = [
        ep
        for ep in md.entry_points(group=QA_CHECKS_GROUP)
        if ep.dist is not None and normalize(ep.dist.name) == normalize(dist)
    ]
    if not points:
        raise PipeError(f"{dist} has no {QA_CHECKS_GROUP} entry point: it checks nothing")
    return [
        _outcome(ep.name, ep.value, lambda ep=ep: ep.load()(name, version))  # type: ignore[misc]
        for ep in sorted(points, key=lambda ep: ep.name)
    ]


def contract(name: str, kind: str) -> list[dict[str, Any]]:
    """pipl's contract of kind ``kind`` for the installed packl ``name``."""
    module_name = normalize(name).replace("-", "_")
    groups = {ep.group for ep in md.distribution(name).entry_points}
    results = [_outcome("import", module_name, lambda: bool(importlib.import_module(module_name)))]
    if not results[0]["passed"]:
        return results
    module = sys.modules[module_name]
    check = getattr(module, "check", None)
    if check is not None:

        def holds() -> str | None:
            return None if check() else f"{module_name}.check() is not true"

        results.append(_outcome("check", f"{module_name}:check", holds))
    if kind == "task" and check is None:
        ok = "pipl.process" in groups
        results.append(
            {
                "check": "task",
                "value": "a pipl.process entry point or a check()",
                "passed": ok,
                "message": "" if ok else f"task {name} has no pipl.process entry point nor check()",
            }
        )
    if kind == "pipeline":
        ok = "pipl_pipe.pipeline" in groups
        results.append(
            {
                "check": "pipeline",
                "value": "a pipl_pipe.pipeline entry point",
                "passed": ok,
                "message": "" if ok else f"pipeline {name} has no pipl_pipe.pipeline entry point",
            }
        )
    return results


def main(argv: list[str] | None = None) -> int:
    args, result = split_result(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m pipl_pipe.qa_check")
    parser.add_argument("name")
    parser.add_argument("version")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--policy")
    what.add_argument("--contract")
    opts = parser.parse_args(args)

    def compute() -> list[dict[str, Any]]:
        if opts.policy:
            return policy(opts.name, opts.version, opts.policy)
        return contract(opts.name, opts.contract)

    if result is None:
        for item in compute():
            print(f"{'ok  ' if item['passed'] else 'FAIL'} {item['check']} {item['message']}")
        return 0
    return respond(result, compute)


if __name__ == "__main__":
    sys.exit(main())
