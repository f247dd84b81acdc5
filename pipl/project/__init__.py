"""Projects: the folder, its ``pipl.toml``, its secrets and its devpi-server.

Public surface: ``Project``, ``find_project``, ``ProjectConfig``; creation lives in
``pipl.project.create``, the server lifecycle in ``pipl.project.server`` and its state in
``pipl.index.status``.
"""

from pipl.project.config import ProjectConfig
from pipl.project.project import Project, find_project

__all__ = ["Project", "ProjectConfig", "find_project"]
