"""The editor's environment for workspaces (an envset packl)."""

from pipl_pipe.envsets import EnvSet

ENVSET = EnvSet(
    set={"CG_SCENE_VIEWER": "maya-2025", "MAYA_VERSION": "2025"},
    prepend={"PATH": ["{root}/bin"], "MAYA_MODULE_PATH": ["{root}/modules"]},
)
