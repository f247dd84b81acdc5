"""What the project's base index must carry so packls work from the project index alone."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pipl.index.wheelpack import pack_installed

if TYPE_CHECKING:
    from pipl.index.client import IndexClient, UploadResult
    from pipl.project.project import Project

# every packl depends on pipl-pipe (which needs tomlkit and filelock) and builds with flit_core;
# every workspace gets pip, so that `pip install` in its shell installs into it
BOOTSTRAP = ("pipl-pipe", "tomlkit", "filelock", "flit_core", "pip")


def publish_bootstrap(project: Project, client: IndexClient) -> list[UploadResult]:
    """Upload wheels of ``BOOTSTRAP`` to the base index (identical files are skipped)."""
    with tempfile.TemporaryDirectory(prefix="pipl-bootstrap-") as tmp:
        wheels = [pack_installed(name, Path(tmp)) for name in BOOTSTRAP]
        return [client.upload(project.base_index, wheel) for wheel in wheels]
