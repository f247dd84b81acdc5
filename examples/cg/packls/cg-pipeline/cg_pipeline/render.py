"""The render step of a shot-animation task: frames from the scene's rigs."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pipl_pipe.tasks import current_task

FRAMES = 4


def render(outdir: Path) -> dict[str, Any]:
    """Write ``frames/`` into ``outdir``; ask for a render product made of it."""
    task = current_task()
    rigs = task.products(type="rig")
    frames = outdir / "frames"
    frames.mkdir()
    for frame in range(1, FRAMES + 1):
        seed = "".join(r.assets.scene.sha256 for r in rigs) + f"{task.name}:{frame}"
        pixel = hashlib.sha256(seed.encode()).hexdigest()
        (frames / f"{task.name}.{frame:04d}.exr").write_text(f"EXR stand-in {pixel}\n")
    return {
        "name": f"{task.name}-render",
        "type": "render",
        "assets": {"frames": "exr-frames"},
        "description": f"Frames of {task.name}, rendered from {len(rigs)} rig(s)",
    }
