"""Running a task's processing: ``python -m pipl_pipe.process TASK OUTDIR``.

The task's ``pipl.process`` entry point is called with a folder to write into; it returns
the products to make of what it wrote, as a dict or a list of dicts::

    {"name": "shot-010-render", "type": "render", "outputs": "frames-dir-inside-OUTDIR",
     "assets": {"frames": "exr-frames"}, "version": "1.0.0", "description": "..."}

(``outputs`` defaults to OUTDIR itself, ``version`` to the task's version). This module
answers them as JSON (to the ``--result`` file pipl gives, see ``pipl_pipe.answer``; else
on stdout), with ``sources``: the exact versions of the task and of the upstream products
it depends on, which every product built from this run pins. What the processing prints
is the user's: it never mixes with the answer.

A re-processing (the same task release run again because an upstream release changed)
sets ``PIPL_REMAKE`` to its number N and ``PIPL_REMAKE_FOR`` to the upstream names (comma
separated): every product is then version ``X.postN`` (``remade_version``: it sorts after
``X`` and every earlier re-make), and its sources pin the installed version of each of
those upstreams too.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from pipl_pipe.answer import respond, split_result
from pipl_pipe.entrypoints import default_index, normalize
from pipl_pipe.errors import PipeError
from pipl_pipe.products import products_required_by
from pipl_pipe.tasks import PROCESS_GROUP

REMAKE_ENV = "PIPL_REMAKE"
REMAKE_FOR_ENV = "PIPL_REMAKE_FOR"
# a version a re-make may extend: no post, dev or local part
_PLAIN = re.compile(r"(\d+!)?\d+(\.\d+)*((a|b|rc)\d+)?", re.IGNORECASE)


def remade_version(version: str, number: int) -> str:
    """The version of a product made from ``version``'s task release for the
    ``number``-th time since (0: the first time, ``version`` itself)."""
    if number <= 0:
        return version
    if not _PLAIN.fullmatch(version):
        raise PipeError(
            f"product version {version} has a post, dev or local part: it cannot be re-made "
            "as a .postN release; give the product a plain version"
        )
    return f"{version}.post{number}"


def _remake() -> tuple[int, list[str]]:
    """This run's re-make number and the upstream names it pins (from the environment)."""
    try:
        number = int(os.environ.get(REMAKE_ENV, "0") or "0")
    except ValueError:
        raise PipeError(f"{REMAKE_ENV} must be a whole number") from None
    followed = [n.strip() for n in os.environ.get(REMAKE_FOR_ENV, "").split(",") if n.strip()]
    return number, followed


def run(task: str, outdir: Path) -> dict[str, Any]:
    index = default_index()
    plugins = [p for p in index.group(PROCESS_GROUP) if normalize(p.dist) == normalize(task)]
    if not plugins:
        raise PipeError(
            f"{task} has no processing (no {PROCESS_GROUP} entry point); "
            "give it a task type with processing (create_task)"
        )
    plugin = plugins[0]
    outdir.mkdir(parents=True, exist_ok=True)
    result = plugin.load()(outdir)
    specs = result if isinstance(result, list) else [result]
    version = md.version(plugin.dist)
    sources = [f"{plugin.dist}=={version}"] + [
        f"{p.name}=={p.version}" for p in products_required_by(plugin.dist, index=index)
    ]
    number, followed = _remake()
    pinned = {normalize(s.split("==", 1)[0]) for s in sources}
    for name in followed:
        if normalize(name) not in pinned:  # the upstream as installed here
            try:
                sources.append(f"{name}=={md.version(name)}")
            except md.PackageNotFoundError:
                raise PipeError(f"{task} was re-made for {name}, which is not installed") from None
            pinned.add(normalize(name))
    products = []
    for spec in specs:
        if not isinstance(spec, dict) or "name" not in spec or "type" not in spec:
            raise PipeError(
                f"processing of {task} ({plugin.value}) must return a dict "
                "with at least 'name' and 'type' (or a list of such dicts)"
            )
        outputs = (outdir / spec.get("outputs", ".")).resolve()
        if not outputs.is_relative_to(outdir.resolve()):
            raise PipeError(
                f"processing of {task}: outputs {spec['outputs']!r} is outside {outdir}"
            )
        _check_asset_types(task, outputs, dict(spec.get("assets", {})))
        products.append(
            {
                "name": spec["name"],
                "type": spec["type"],
                "outputs": str(outputs),
                "assets": dict(spec.get("assets", {})),
                "version": remade_version(str(spec.get("version", version)), number),
                "description": spec.get("description", ""),
                "sources": sources,
            }
        )
    return {"task": plugin.dist, "version": version, "products": products}


def _check_asset_types(task: str, outputs: Path, assets: dict[str, str]) -> None:
    """Asset types are known here, in the task's environment: check them now."""
    from pipl_pipe.assets.types import get_asset_type
    from pipl_pipe.products import asset_name

    entries = {asset_name(p): p for p in outputs.iterdir() if not p.name.startswith(".")}
    for name, type_name in assets.items():
        atype = get_asset_type(type_name)
        path = entries.get(name)
        if path is None:
            raise PipeError(
                f"processing of {task} names asset {name!r} but wrote no {name} in its outputs"
            )
        if atype.folder != path.is_dir():
            want = "a folder" if atype.folder else "a file"
            raise PipeError(
                f"processing of {task}: asset {name} has type {type_name!r}, which is {want}"
            )


def main(argv: list[str] | None = None) -> int:
    args, result = split_result(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m pipl_pipe.process TASK OUTDIR [--result PATH]", file=sys.stderr)
        return 2
    if result is not None:
        return respond(result, lambda: run(args[0], Path(args[1])))
    try:
        print(json.dumps(run(args[0], Path(args[1]))))
    except PipeError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # run the imported module, not this __main__ copy, so that classes packls subclass
    # (and isinstance checks) are the same objects
    from pipl_pipe.process import main as _main

    raise SystemExit(_main())
