"""Task types of the CG pipeline."""

from typing import ClassVar

from pipl_pipe.tasks import TaskType


class ShotAnimation(TaskType):
    name = "shot-animation"
    summary = "animate a shot with the rigs it depends on, then render it"
    commands: ClassVar[dict[str, str]] = {"open-scene": "cg_pipeline.commands:open_scene"}
    process = "cg_pipeline.render:render"
