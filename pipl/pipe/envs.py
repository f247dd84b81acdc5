"""Segment environments: which interpreter runs a segment, and the lock in its key.

By default a segment runs in the engine's interpreter (or the pipeline's ``python``, the
environment a pipeline packl is installed in); its environment lock is the Python version
and the pipeline packl's ``uv.lock`` (or the pipeline's ``env_lock``). A segment declared with
``"env": ["some-segment-packl", "numpy<2"]`` gets its own uv environment: the
requirements (and pipl-pipe) are resolved on the project index into a lock, and the
environment is made once per lock under ``PREFIX/.envs/<lock hash>/``. The lock is part of
the segment's key, so a new upstream release on the index makes a new key. With the Dask
executor each worker makes the same environment on its own host from the lock
(``pipl_pipe.segment.uvenv``).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from pipl.errors import PipelineError
from pipl.fsutil import atomic_write, locked
from pipl.pipe.pipeline import Pipeline
from pipl.pipe.sources import local_path, pipeline_folder, resolve_local
from pipl.uv import Uv

ENVS = ".envs"
INDEX_FILE = "pipl-index.txt"  # beside pipl-lock.txt: the index the lock was resolved on


def segment_environment(
    pipeline: Pipeline, name: str, spec: dict[str, Any], uv: Uv | None = None, *, make: bool = True
) -> tuple[str, str]:
    """(python executable, environment lock text) for segment ``name``; ``make=False``
    resolves the lock but makes no environment (the python returned may not exist)."""
    version = f"python {sys.version_info.major}.{sys.version_info.minor}"
    requirements = spec.get("env")
    if not requirements:
        return pipeline.python or sys.executable, f"{version}\n{pipeline.env_lock}"
    if isinstance(requirements, str):
        requirements = [requirements]
    if not pipeline.index_url:
        raise PipelineError(
            f"segment {name} has its own environment ({', '.join(requirements)}) but no "
            "project index is known: run inside a pipl project or set PIPL_PIPE_INDEX"
        )
    uv = uv or Uv()
    lines = [_requirement_line(str(entry), pipeline, name) for entry in requirements]
    lock = _resolve(uv, [*lines, "pipl-pipe"], pipeline.index_url, name)
    digest = hashlib.sha256(lock.encode()).hexdigest()[:16]
    envs = pipeline.prefix / ENVS
    target = envs / digest
    python = target / "bin" / "python"
    if not make:
        return str(python), f"{version}\n{lock}"
    envs.mkdir(parents=True, exist_ok=True)
    with locked(envs / digest):
        if not python.exists():
            _make(uv, target, lock, pipeline.index_url, name)
    return str(python), f"{version}\n{lock}"


def _requirement_line(entry: str, pipeline: Pipeline, name: str) -> str:
    """A requirements line: an index requirement as given, a local folder editable."""
    if local_path(entry) is None:
        return entry
    return f"-e {resolve_local(entry, pipeline_folder(pipeline), name)}"


def _resolve(uv: Uv, requirements: list[str], index_url: str, name: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "requirements.in"
        req.write_text("\n".join(requirements) + "\n")
        done = uv.run(
            [
                "pip",
                "compile",
                "--quiet",
                "--no-header",
                "--python",
                sys.executable,
                "--index-url",
                index_url,
                req,
            ],
            index_url=index_url,
            what=f"resolve the environment of segment {name}",
        )
    return "\n".join(
        line for line in done.stdout.splitlines() if line and not line.lstrip().startswith("#")
    )


def _make(uv: Uv, target: Path, lock: str, index_url: str, name: str) -> None:
    """Build the environment beside its final place, then rename it there."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        uv.run(
            ["venv", "--quiet", "--relocatable", "--python", sys.executable, "--no-project", tmp],
            what=f"create the environment of segment {name}",
        )
        atomic_write(tmp / "pipl-lock.txt", lock + "\n")
        atomic_write(tmp / INDEX_FILE, index_url + "\n")  # what a Dask worker syncs from
        uv.run(
            [
                "pip",
                "sync",
                "--quiet",
                "--python",
                tmp / "bin" / "python",
                "--index-url",
                index_url,
                tmp / "pipl-lock.txt",
            ],
            index_url=index_url,
            what=f"install the environment of segment {name}",
        )
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
