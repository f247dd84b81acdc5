"""What made a segment's key, read back from its folder: the code page and comparisons.

A run copies into each segment folder what entered its key (``pipl.pipe.store``): the
script, its hooks and ``#depend`` files under ``code/``, ``params.json``, and
``segment.json`` (parents' keys, multiplex directive, packl entry point, environment).
``segment_code`` reads them back; ``compare`` sets two keys of one segment side by side:
which of those parts differ, how many instances each has, and their instances by name.

Segment code may write in its own folders, so every file is read only when it is a
regular file inside the segment's ``code/`` folder (no link), and only up to a bound.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipl.errors import PiplError
from pipl.pipe.browse import (
    InstanceRow,
    data_files,
    get_instance,
    instance_folder,
    saved_params,
    segment_folder,
)
from pipl.pipe.db import TrackingDb
from pipl.pipe.recipe import SegmentEntry
from pipl.pipe.store import META

TEXT_MAX = 256 * 1024  # a file longer than this is shown by its size only
DIFF_LINES = 400
DIGEST = re.compile(r"[0-9a-f]{10}\Z")


@dataclass(frozen=True)
class CodeFile:
    role: str  # script, hook NAME, depend, other
    name: str  # the file's name in code/ (for a #depend file: the path the code gave)
    size: int
    text: str | None  # None: binary or too long to show


@dataclass(frozen=True)
class SegmentCodeView:
    segment: str
    key: str
    created: float | None
    source: str  # where the script came from when it ran
    entry: str  # "module:function" of a segment packl
    dist: str  # the segment packl, "name==version"
    multiplex: str
    env: str  # the segment environment's interpreter ("" for the pipeline's own)
    parents: dict[str, str]  # parent segment -> its key
    params: dict[str, str]  # name -> JSON text
    files: list[CodeFile]
    revisions: list[str]  # code revisions of the runs that made its instances


def _meta(root: Path) -> dict[str, Any]:
    path = root / META
    try:
        if path.is_symlink() or path.stat().st_size > TEXT_MAX:
            return {}
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read(path: Path, base: Path) -> tuple[int, str | None] | None:
    """``(size, text)`` of a regular file inside ``base``, None when it is not one."""
    try:
        if path.is_symlink() or not path.is_file() or not path.resolve().is_relative_to(base):
            return None
        size = path.stat().st_size
        if size > TEXT_MAX:
            return size, None
        return size, path.read_bytes().decode()
    except UnicodeDecodeError:
        return size, None
    except OSError:
        return None


def segment_params(root: Path) -> dict[str, str]:
    """The parameters in the key of the segment folder ``root``, as JSON texts."""
    found = _read(root / "params.json", root.resolve())
    if found is None or found[1] is None:
        return {}
    try:
        data = json.loads(found[1])
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): json.dumps(v, sort_keys=True) for k, v in sorted(data.items())}


def _files(root: Path, meta: dict[str, Any]) -> list[CodeFile]:
    code = root / "code"
    base = code.resolve() if code.is_dir() else None
    if base is None or not base.is_relative_to(root.resolve()):
        return []
    script = Path(str(meta.get("code") or "")).name
    hooks = {str(f): str(h) for h, f in dict(meta.get("hooks") or {}).items()}
    depend = {str(f): str(d) for d, f in dict(meta.get("depend") or {}).items()}
    files: list[CodeFile] = []
    for path in sorted(code.iterdir(), key=lambda p: p.name)[:200]:
        found = _read(path, base)
        if found is None:
            continue
        if path.name == script:
            role, name = "script", path.name
        elif path.name in hooks:
            role, name = f"hook {hooks[path.name]}", path.name
        elif path.name in depend:
            role, name = "depend", depend[path.name]
        else:
            role, name = "other", path.name
        files.append(CodeFile(role, name, *found))
    order = {"script": 0, "depend": 2, "other": 3}
    return sorted(files, key=lambda f: (order.get(f.role, 1), f.role, f.name))


def run_revisions(db: TrackingDb, key: str) -> list[str]:
    """The code revisions recorded by the runs that made instances of ``key``."""
    runs = [
        r
        for (r,) in db.conn.execute("SELECT DISTINCT run_id FROM instances WHERE key=?", (key,))
        if r
    ]
    found = db.revisions(runs)
    return list(dict.fromkeys(found[r] for r in sorted(found)))


def segment_code(prefix: Path, db: TrackingDb, entry: SegmentEntry) -> SegmentCodeView:
    """What entered ``entry``'s key, as its folder keeps it."""
    root = segment_folder(prefix, entry)
    meta = _meta(root)
    created = meta.get("created")
    return SegmentCodeView(
        segment=entry.name,
        key=entry.key,
        created=float(created) if isinstance(created, int | float) else None,
        source=str(meta.get("code") or ""),
        entry=str(meta.get("entry") or ""),
        dist=str(meta.get("dist") or ""),
        multiplex=str(meta.get("multiplex") or ""),
        env=str(meta.get("env") or ""),
        parents={str(k): str(v) for k, v in dict(meta.get("parents") or {}).items()},
        params=segment_params(root),
        files=_files(root, meta),
        revisions=run_revisions(db, entry.key),
    )


# --- comparing two keys of a segment ------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    part: str  # "script", "hook NAME", "depend PATH", "param NAME", "parent NAME", ...
    a: str  # the value under the first key ("" when absent), shortened
    b: str
    diff: str = ""  # a unified diff, for text files


@dataclass(frozen=True)
class Side:
    """One instance of the comparison, under one key (None where that key lacks it)."""

    name: str
    status: str
    input: str
    files: list[str]  # "name (size)"
    exposed: dict[str, str]
    error: str = ""


@dataclass(frozen=True)
class Pair:
    name: str  # what the two instances share (see ``pairing``)
    a: Side | None
    b: Side | None


@dataclass(frozen=True)
class Comparison:
    segment: str
    a: SegmentCodeView
    b: SegmentCodeView
    counts_a: dict[str, int]
    counts_b: dict[str, int]
    differences: list[Difference]
    instances: list[Pair] = field(default_factory=list)
    total: int = 0  # instance names under either key


def _short(text: str, size: int = 200) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


def differences(a: SegmentCodeView, b: SegmentCodeView) -> list[Difference]:
    """The parts of the two keys' inputs that differ."""
    found: list[Difference] = []

    def plain(part: str, old: Any, new: Any) -> None:
        if old != new:
            found.append(Difference(part, _short(str(old or "")), _short(str(new or ""))))

    for part in ("entry", "dist", "multiplex", "env"):
        plain(part, getattr(a, part), getattr(b, part))
    for name in sorted({*a.params, *b.params}):
        plain(f"param {name}", a.params.get(name, ""), b.params.get(name, ""))
    for name in sorted({*a.parents, *b.parents}):
        plain(f"parent {name}", a.parents.get(name, ""), b.parents.get(name, ""))
    files_a = {(f.role, f.name): f for f in a.files}
    files_b = {(f.role, f.name): f for f in b.files}
    for role, name in sorted({*files_a, *files_b}):
        old, new = files_a.get((role, name)), files_b.get((role, name))
        if old is not None and new is not None and old.text == new.text and old.size == new.size:
            continue
        part = role if role == "script" else f"{role} {name}"
        found.append(
            Difference(
                part,
                "" if old is None else f"{old.name} ({old.size} bytes)",
                "" if new is None else f"{new.name} ({new.size} bytes)",
                _diff(old, new, a.key, b.key),
            )
        )
    return found


def _diff(old: CodeFile | None, new: CodeFile | None, key_a: str, key_b: str) -> str:
    text_a = "" if old is None else old.text
    text_b = "" if new is None else new.text
    if text_a is None or text_b is None:
        return ""
    lines = list(
        difflib.unified_diff(
            text_a.splitlines(), text_b.splitlines(), key_a, key_b, lineterm="", n=2
        )
    )
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"... ({len(lines) - DIFF_LINES} more lines)"]
    return "\n".join(lines)


def _side(prefix: Path, entry: SegmentEntry, row: InstanceRow) -> Side:
    try:
        folder = instance_folder(prefix, entry, row.name)
        files = [f"{f.name} ({f.size})" for f in data_files(folder)[:50]]
        exposed = saved_params(folder)[1]
    except (OSError, PiplError):  # a folder gone or not its own: the row without files
        files, exposed = [], {}
    return Side(row.name, row.status, row.input, files, exposed, row.error)


def pairing(name: str) -> str:
    """What an instance of one key shares with its counterpart under another key: the
    digest its name ends with, made from which parent instances fed it (or its pushed
    value), so instances pair up even when their parents' values changed."""
    _, sep, digest = name.rpartition("_")
    if sep and DIGEST.match(digest):
        return digest
    return name


def paired_instances(
    prefix: Path,
    db: TrackingDb,
    a: SegmentEntry,
    b: SegmentEntry,
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, list[Pair]]:
    """The instances of the two keys side by side, paired by ``pairing`` (one page, in
    the order of the names), and how many pairs there are in all."""
    pairs: dict[str, dict[str, str]] = {}
    for side, entry in (("a", a), ("b", b)):
        for (name,) in db.conn.execute("SELECT name FROM instances WHERE key=?", (entry.key,)):
            pairs.setdefault(pairing(name), {})[side] = name
    ordered = sorted(pairs.items(), key=lambda item: item[1].get("b") or item[1]["a"])
    found = []
    for shared, names in ordered[offset : offset + limit]:
        sides = [
            _side(prefix, entry, get_instance(db, entry, names[side])) if side in names else None
            for side, entry in (("a", a), ("b", b))
        ]
        found.append(Pair(shared, sides[0], sides[1]))
    return len(pairs), found
