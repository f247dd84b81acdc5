"""``open-scene``: build the shot's scene from the upstream products' assets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipl_pipe.errors import PipeError
from pipl_pipe.tasks import current_task


def open_scene(argv: list[str] | None = None) -> int:
    """Fetch the rigs (and the models they were made from) and write the shot scene."""
    try:
        task = current_task()
        rigs = task.products(type="rig")
        if not rigs:
            print(f"{task.name} depends on no rig: pipl packl add RIG", file=sys.stderr)
            return 1
        lines = [f"// scene of {task.name} {task.version}, task type {task.type}"]
        for rig in rigs:
            lines.append(f'file -r "{rig.assets.scene.fetch()}";  // {rig.name} {rig.version}')
            for model in rig.dependencies(type="model"):
                for asset in model.assets:
                    lines.append(f"// {model.name}.{asset.name}: {asset.fetch()}")
    except PipeError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    viewer = os.environ.get("CG_SCENE_VIEWER", "none")
    scene = Path(os.environ.get("PIPL_WORKSPACE", ".")) / "scenes" / f"{task.name}.ma"
    scene.parent.mkdir(parents=True, exist_ok=True)
    scene.write_text("\n".join(lines) + "\n")
    print(f"opened {scene} with {len(rigs)} rig(s) (viewer: {viewer})")
    for line in lines[1:]:
        print(f"  {line}")
    return 0
