"""What a segment environment holds, asked from the engine's own interpreter.

The engine (pipl) runs in its interpreter; a segment with an environment of its own, or a
pipeline installed in another one, has packages the engine cannot import. So pipl runs
that environment's python::

    python -m pipl_pipe.segment.probe entry-point NAME [NAME ...] --result PATH
    python -m pipl_pipe.segment.probe installed --result PATH

and reads the answer from PATH (``pipl_pipe.answer``): what a probed module prints when it
is imported goes to the terminal, never into the answer. Without ``--result`` the answer
is printed as JSON, for people.

- ``entry-point``: the first of the NAMEs that is a ``pipl_pipe.segment`` entry point, with
  its distribution, its module's file and source, and the module's ``MULTIPLEX`` (None
  when no NAME is one);
- ``installed``: every distribution, ``{"packl", "version", "type"}``, where ``type`` is a
  product's type from its manifest ("" for anything else).
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipl_pipe.answer import respond, split_result
from pipl_pipe.entrypoints import normalize
from pipl_pipe.products import MANIFEST, PRODUCT_GROUP

SEGMENT_GROUP = "pipl_pipe.segment"
USAGE = "usage: python -m pipl_pipe.segment.probe {entry-point NAME... | installed} [--result PATH]"


def entry_point(candidates: Sequence[str]) -> dict[str, Any] | None:
    """The first ``pipl_pipe.segment`` entry point among ``candidates``: its value, its
    distribution and version, its module's file (``origin``) and source, and the module's
    ``MULTIPLEX``. The module is imported, so an error in it is raised here."""
    eps = {ep.name: ep for ep in md.entry_points(group=SEGMENT_GROUP)}
    for name in candidates:
        ep = eps.get(name)
        if ep is None:
            continue
        module = ep.value.partition(":")[0].strip()
        spec = importlib.util.find_spec(module)
        origin = (spec.origin if spec else None) or ""
        source = Path(origin).read_text() if origin.endswith(".py") else ""
        imported = importlib.import_module(module)
        dist = ep.dist
        return {
            "name": name,
            "value": ep.value,
            "dist": dist.name if dist else "",
            "version": dist.version if dist else "",
            "origin": origin,
            "source": source,
            "multiplex": getattr(imported, "MULTIPLEX", None),
        }
    return None


def installed(path: Sequence[str] = ()) -> list[dict[str, str]]:
    """The distributions in the folders ``path`` (empty: ``sys.path``): the normalized
    name (``packl``), the version, and the product type of those that are products."""
    found = []
    for dist in md.distributions(path=list(path)) if path else md.distributions():
        name = dist.metadata["Name"] or ""
        if not name:
            continue
        kind = ""
        for ep in dist.entry_points:
            if ep.group == PRODUCT_GROUP:
                module = ep.value.partition(":")[0].strip().replace(".", "/")
                kind = product_type(Path(str(dist.locate_file(module))) / MANIFEST)
                break
        found.append({"packl": normalize(name), "version": dist.version, "type": kind})
    return found


def product_type(manifest: Path) -> str:
    """The ``type`` a product's manifest gives ("" when it cannot be read or has none)."""
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return ""
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else ""


def command(args: Sequence[str]) -> Callable[[], Any] | None:
    """What the command line ``args`` (without ``--result``) asks, or None if it is not a
    command of this module."""
    if len(args) > 1 and args[0] == "entry-point":
        return lambda: entry_point(args[1:])
    if list(args) == ["installed"]:
        return installed
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args, result = split_result(sys.argv[1:] if argv is None else argv)
    ask = command(args)
    if ask is None:
        print(USAGE, file=sys.stderr)
        return 2
    if result is not None:
        return respond(result, ask)
    print(json.dumps(ask()))
    return 0


if __name__ == "__main__":
    # run the imported module, not this __main__ copy
    from pipl_pipe.segment.probe import main as _main

    raise SystemExit(_main())
