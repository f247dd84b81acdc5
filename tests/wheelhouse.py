"""Wheels of distributions installed beside the tests, as they are installed.

A test that installs pipl with plain pip, without PyPI, needs every distribution pip will
ask for as a wheel in a folder (``pip install --no-index --find-links FOLDER``). They are
all installed in the test environment already, native ones included, so each is written
back into a wheel from its installed files: its own tags (from its ``WHEEL`` file), its
modules, its metadata, and the programs it installed that are not entry-point scripts
(uv's binary, for instance). Not a general tool: enough for what a venv's pip installs.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import json
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import Requirement

_DROP_FROM_DIST_INFO = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _is_editable(dist: md.Distribution) -> bool:
    text = dist.read_text("direct_url.json") or "{}"
    return bool(json.loads(text).get("dir_info", {}).get("editable"))


def closure(requirements: Iterable[str], skip: Iterable[str] = ()) -> list[md.Distribution]:
    """The installed distributions that ``requirements`` need, with their dependencies
    (extras ignored), leaving out the names in ``skip`` and what only they need."""
    skipped = {normalize(n) for n in skip}
    found: dict[str, md.Distribution] = {}
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        key = normalize(req.name)
        if key in found or key in skipped:
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        dist = md.distribution(req.name)
        found[key] = dist
        todo += [Requirement(r) for r in dist.requires or []]
    return [found[k] for k in sorted(found)]


def _tag(dist: md.Distribution) -> str:
    """The wheel file name's tag part, from the tags the installed ``WHEEL`` lists."""
    tags = [
        line.split(":", 1)[1].strip()
        for line in (dist.read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ] or ["py3-none-any"]
    parts = [sorted({t.split("-")[i] for t in tags}) for i in range(3)]
    return "-".join(".".join(p) for p in parts)


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def repack(dist: md.Distribution, out_dir: Path) -> Path:
    """Write a wheel of the installed, non-editable distribution ``dist``."""
    name, version = dist.metadata["Name"], dist.version
    if _is_editable(dist):
        raise ValueError(f"{name} is installed editable: build it from its sources")
    stem = f"{re.sub(r'[-_.]+', '_', name)}-{version}"
    info, data = f"{stem}.dist-info", f"{stem}.data"
    entry_scripts = {ep.name for ep in dist.entry_points if ep.group.endswith("_scripts")}
    entries: dict[str, tuple[bytes, int]] = {}
    for item in dist.files or []:
        parts = item.parts
        if "__pycache__" in parts or item.suffix == ".pyc" or Path(str(item)).is_absolute():
            continue
        if parts[0].endswith(".dist-info"):
            if item.name in _DROP_FROM_DIST_INFO:
                continue
            arc = "/".join((info, *parts[1:]))
        elif parts[0] == "..":
            inside = [p for p in parts if p != ".."]  # relative to the environment's root
            if inside[0] == "bin":
                if item.name in entry_scripts:
                    continue  # pip writes entry-point scripts itself
                arc = f"{data}/scripts/{item.name}"
            else:
                arc = "/".join((data, "data", *inside))
        else:
            arc = "/".join(parts)
        path = Path(str(item.locate()))
        entries[arc] = (path.read_bytes(), path.stat().st_mode & 0o777)
    record = [_record_line(arc, content) for arc, (content, _) in sorted(entries.items())]
    entries[f"{info}/RECORD"] = (("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode(), 0o644)
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"{stem}-{_tag(dist)}.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_STORED) as zf:
        for arc, (content, mode) in sorted(entries.items(), key=lambda e: e[0].startswith(info)):
            item = zipfile.ZipInfo(arc, date_time=(1980, 1, 1, 0, 0, 0))
            item.external_attr = mode << 16
            zf.writestr(item, content)
    return wheel
