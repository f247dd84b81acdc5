"""The handback: what a handler's build part gives its deliver part (``pipl.ci.handlers``).

The build part writes ``handback.json`` beside the job's ``spec.json``: files and folders
of its work folder, a few JSON values, or a summary when there is nothing to deliver. With
``[ci] executor = "dask"`` the build runs on a worker (``pipl.ci.dask_worker``), which packs
the handed-back files (regular files only, bounded); the runner stores them back under the
job's work folder, each path checked, ``handback.json`` last; the deliver part reads it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from pipl.ci.handlers import CiError, Handback

HANDBACK = "handback.json"  # beside spec.json: what the build part handed back
HANDBACK_DIR = "handback"  # under the job's work folder: the files sent back by a worker
MAX_HANDBACK = 1024**3  # bytes, all files together
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+ -]{0,254}")  # one name of a path
MAX_DEPTH = 32  # folders deep, in what a worker sends back


# -- the handback: what ``build`` gives ``deliver`` ------------------------------------
def write_handback(folder: Path, workdir: Path, handback: Handback) -> None:
    """``handback.json`` in the job folder: files relative to the work folder."""
    from pipl.fsutil import atomic_write

    files = [str(Path(p).resolve().relative_to(workdir.resolve())) for p in handback.files]
    data = {"files": files, "data": handback.data, "summary": handback.summary}
    atomic_write(folder / HANDBACK, json.dumps(data))


def read_handback(folder: Path, workdir: Path) -> Handback:
    """The handback a build part left, its files checked to lie in the work folder."""

    data = json.loads((folder / HANDBACK).read_text())
    files = tuple(_checked(workdir / rel, workdir) for rel in data["files"])
    return Handback(files, dict(data.get("data") or {}), str(data.get("summary") or ""))


def _checked(path: Path, workdir: Path) -> Path:
    """A handed-back ``path``: a regular file, or a folder of them, inside ``workdir``."""
    from pipl.ci.sandbox import check_file, check_tree

    if path.is_dir() and not path.is_symlink():
        check_tree(path, workdir, max_bytes=MAX_HANDBACK)
        return path
    return check_file(path, workdir, max_bytes=MAX_HANDBACK)


def pack(rels: list[str], work: Path) -> dict[str, bytes]:
    """The bytes of the handed-back files and folders ``rels`` (relative to ``work``), by
    path relative to ``work``: regular files only (a link in a folder is refused), at most
    ``MAX_HANDBACK`` bytes together. ``Rejected`` says what was wrong."""
    from pipl.ci.sandbox import Rejected, check_file

    files: dict[str, bytes] = {}
    total = 0
    for rel in rels:
        top = _checked(work / rel, work)
        if top.is_dir():  # every entry but its folders: a link (to a folder too) is refused
            members = sorted(p for p in top.rglob("*") if p.is_symlink() or not p.is_dir())
        else:
            members = [top]
        for member in members:
            if member.is_symlink():
                raise Rejected(
                    f"{member.relative_to(work)} is a link: a worker sends regular files only"
                )
            data = check_file(member, work, max_bytes=MAX_HANDBACK).read_bytes()
            total += len(data)
            if total > MAX_HANDBACK:
                raise Rejected(f"the build handed back more than {MAX_HANDBACK} bytes: refused")
            files[member.relative_to(work).as_posix()] = data
    return files


def store_answer(answer: dict[str, Any], folder: Path, workdir: Path) -> None:
    """Write the files a worker sent back under ``workdir/handback/`` (each path checked:
    relative, plain names, nothing outside) and, last, the job's ``handback.json``
    pointing at what the build handed back there."""
    from pipl.fsutil import atomic_write

    handback = answer.get("handback") or {}
    files: dict[str, bytes] = answer.get("files") or {}
    if sum(len(data) for data in files.values()) > MAX_HANDBACK:
        raise CiError(f"the worker sent back more than {MAX_HANDBACK} bytes: refused")
    target = workdir / HANDBACK_DIR
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for rel, data in files.items():
        path = target / _safe_rel(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    tops = [_safe_rel(str(rel)) for rel in handback.get("files") or []]
    for rel in tops:
        if not (target / rel).exists():  # an empty folder sends no file
            (target / rel).mkdir(parents=True)
    record = {
        "files": [f"{HANDBACK_DIR}/{rel}" for rel in tops],
        "data": handback.get("data") or {},
        "summary": str(handback.get("summary") or ""),
    }
    atomic_write(folder / HANDBACK, json.dumps(record))


def _safe_rel(rel: str) -> str:
    """``rel`` when it is a relative path of plain names (no ``..``, no absolute path,
    at most ``MAX_DEPTH`` deep); a one-line ``CiError`` otherwise."""
    parts = rel.split("/")
    if len(parts) > MAX_DEPTH or not all(_SAFE_NAME.fullmatch(p) for p in parts):
        raise CiError(f"the worker sent back a file named {rel!r}: refused")
    return rel
