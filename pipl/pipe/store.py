"""The hierarchical data store: one folder per segment key, nested under a parent's.

::

    PREFIX/knights_<key>/segment.json        name, key, parents' keys, multiplex, params
                        code/knights.py      copies of the script, hooks, #depend files
                        params.json
                        data/<instance>/     the instance's files, instance.log
                        journal/<batch>.pkl  instance records (status, outputs, timings)
                        melt_<key>/...       a child segment, under its first parent

The folder of a key is written once (meta files atomically); instances are folders
under ``data/``, recorded in the journal when they end. Deleting an instance's data
removes its folder and appends a tombstone to the journal, so neither resuming nor
``rebuild`` brings it back: the next run computes it again.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipl_pipe.segment.worker import JOURNAL, read_journal

from pipl.fsutil import atomic_write
from pipl.names import normalize_dist
from pipl.pipe.code import SegmentCode
from pipl.project.project import Project

META = "segment.json"


def pipe_data(project: Project, pipeline: str = "") -> Path:
    """Where a project keeps the data (and so the cache) of its pipelines between CI runs,
    ``PROJECT/.pipl/pipe-data/PIPELINE`` (without ``pipeline``: the folder of them all)."""
    root = project.state_dir / "pipe-data"
    return root / normalize_dist(pipeline) if pipeline else root


def segment_root(prefix: Path, parent_root: Path | None, name: str, key: str) -> Path:
    return (parent_root if parent_root is not None else prefix) / f"{name}_{key}"


def write_segment(
    root: Path,
    code: SegmentCode,
    key: str,
    params: dict[str, Any],
    parents: dict[str, str],
    env: str,
    inputs: dict[str, str] | None = None,
) -> None:
    """Copies of the code and parameters, then ``segment.json`` (skipped if present)."""
    if (root / META).exists():
        return
    (root / "data").mkdir(parents=True, exist_ok=True)
    code_dir = root / "code"
    code_dir.mkdir(exist_ok=True)
    if code.source:
        atomic_write(code_dir / Path(code.filename).name, code.source)
    for filename, source in code.hooks.values():
        atomic_write(code_dir / Path(filename).name, source)
    for dep, content in code.depend.items():
        atomic_write(code_dir / Path(dep).name, content)
    atomic_write(root / "params.json", json.dumps(params, indent=2, default=repr) + "\n")
    meta = {
        "name": code.name,
        "key": key,
        "parents": parents,
        "code": code.filename,
        "entry": code.entry,
        "dist": code.dist,
        "multiplex": str(code.multiplex),
        # which copy in code/ is which: hook name -> file, #depend path -> file
        "hooks": {hook: Path(filename).name for hook, (filename, _) in code.hooks.items()},
        "depend": {dep: Path(dep).name for dep in code.depend},
        "env": env,
        "sources": code.sources,
        "inputs": inputs or {},  # digests of the key's inputs (keys.key_inputs)
        "created": time.time(),
    }
    atomic_write(root / META, json.dumps(meta, indent=2) + "\n")


def read_meta(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / META).read_text())
    return data


def instance_dir(root: Path, name: str) -> Path:
    return root / "data" / name


def finished_on_disk(root: Path) -> dict[str, dict[str, Any]]:
    """Records of the instances that finished well, from the journal (a run killed before
    the database heard of them leaves them there)."""
    return {name: rec for name, rec in read_journal(root).items() if rec.get("ok")}


@dataclass(frozen=True)
class FoundSegment:
    root: Path
    meta: dict[str, Any]


def walk_segments(prefix: Path) -> Iterator[FoundSegment]:
    """Every segment folder under ``prefix`` (never descending into instance data)."""
    stack = [prefix]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        if folder != prefix and any(e.name == META for e in entries):
            yield FoundSegment(folder, read_meta(folder))
        for entry in entries:
            if (
                entry.is_dir()
                and entry.name not in ("data", "code", "journal")
                and "_" in entry.name
            ):
                stack.append(Path(entry.path))


def instance_records(root: Path) -> Iterator[dict[str, Any]]:
    """The latest record of each instance of a segment folder (deleted ones left out)."""
    for record in read_journal(root).values():
        if not record.get("deleted"):
            yield record


def delete_instance_data(root: Path, name: str) -> None:
    """Remove instance ``name``'s folder and journal it as deleted (call it under the
    pipeline's run lock, and forget the instance in the tracking database)."""
    tombstone: dict[str, Any] = {
        "name": name,
        "input": None,
        "ok": False,
        "output": [],
        "started": time.time(),
        "seconds": 0.0,
        "error": "data deleted",
        "deleted": True,
    }
    journal = root / JOURNAL
    journal.mkdir(parents=True, exist_ok=True)
    payload = pickle.dumps(tombstone, protocol=pickle.HIGHEST_PROTOCOL)
    atomic_write(journal / f"{time.time_ns()}-{os.getpid()}-deleted.pkl", payload)
    folder = instance_dir(root, name)
    if folder.is_symlink():  # not made by a run: remove the link, not what it points to
        folder.unlink()
    elif folder.exists():
        shutil.rmtree(folder)
