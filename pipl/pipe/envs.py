"""Segment environments: which interpreter runs a segment, and the lock in its key.

By default a segment runs in the engine's interpreter; its environment lock is the
pipeline packl's ``uv.lock`` (if any) and the Python version.
"""

from __future__ import annotations

import sys
from typing import Any

from pipl.pipe.pipeline import Pipeline


def segment_environment(pipeline: Pipeline, name: str, spec: dict[str, Any]) -> tuple[str, str]:
    """(python executable, environment lock text) for segment ``name``."""
    version = f"python {sys.version_info.major}.{sys.version_info.minor}"
    return sys.executable, f"{version}\n{pipeline.env_lock}"
