"""What the project's base index must carry so packls work from the project index alone."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pipl import names
from pipl.index.wheelpack import pack_installed

if TYPE_CHECKING:
    from pipl.index.client import IndexClient, UploadResult
    from pipl.project.project import Project

FRAMEWORK = "pipl-pipe"
# every packl depends on pipl-pipe (which needs tomlkit and filelock) and builds with
# flit_core; setuptools and wheel (which needs packaging) build sdists that use setuptools;
# every workspace gets pip, so that `pip install` in its shell installs into it
BOOTSTRAP = (
    FRAMEWORK,
    "tomlkit",
    "filelock",
    "flit_core",
    "setuptools",
    "wheel",
    "packaging",
    "pip",
)


def mirror_whitelist() -> list[str]:
    """The base index's names whose PyPI versions a project with the mirror also sees
    (devpi's ``mirror_whitelist``): every bootstrap name but pipl's own framework, so a
    PyPI project of that name never reaches a packl."""
    return sorted(names.normalize_dist(n) for n in BOOTSTRAP if n != FRAMEWORK)


def publish_bootstrap(project: Project, client: IndexClient) -> list[UploadResult]:
    """Upload wheels of ``BOOTSTRAP`` to the base index (identical files are skipped)."""
    with tempfile.TemporaryDirectory(prefix="pipl-bootstrap-") as tmp:
        wheels = [pack_installed(name, Path(tmp)) for name in BOOTSTRAP]
        return [client.upload(project.base_index, wheel) for wheel in wheels]
