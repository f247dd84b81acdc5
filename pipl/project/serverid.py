"""Which devpi-server is this project's: the uuid devpi keeps in its server folder.

devpi writes a uuid into ``.nodeinfo`` of its server folder when the folder is created and
reports it in ``/+status``. That file is private to the project's owner (0600), so pipl
copies the uuid to ``.pipl/server-uuid`` (readable by every user of a shared project) when
the project is created and whenever its owner starts the server.
"""

from __future__ import annotations

import contextlib
import json
import re

from pipl.errors import ProjectError
from pipl.fsutil import atomic_write
from pipl.project.project import ProjectFiles

_UUID = re.compile(r"[0-9a-f]{32}")


def record_server_uuid(files: ProjectFiles) -> str | None:
    """Copy the uuid from devpi's ``.nodeinfo`` to ``.pipl/server-uuid``; return it
    (None when the server folder is not readable, or has no uuid yet)."""
    try:
        data = json.loads((files.serverdir / ".nodeinfo").read_text())
    except (OSError, ValueError):
        return None
    uuid = data.get("uuid") if isinstance(data, dict) else None
    if not isinstance(uuid, str) or not _UUID.fullmatch(uuid):
        return None
    try:
        recorded = files.server_uuid_file.read_text().strip()
    except OSError:
        recorded = ""
    if recorded != uuid:
        # another user's command may only read it; the owner's next command writes it
        with contextlib.suppress(OSError):
            atomic_write(files.server_uuid_file, uuid + "\n", mode=0o644)
    return uuid


def server_uuid(files: ProjectFiles) -> str:
    """The uuid of this project's devpi server folder."""
    try:
        recorded = files.server_uuid_file.read_text().strip()
    except FileNotFoundError:
        recorded = ""
    except PermissionError:
        raise ProjectError(
            f"cannot read {files.server_uuid_file}: the project's owner must make "
            f"{files.state_dir} readable (chmod 755 {files.state_dir})"
        ) from None
    if _UUID.fullmatch(recorded):
        return recorded
    uuid = record_server_uuid(files)
    if uuid is None:
        raise ProjectError(
            f"cannot tell which server is this project's: {files.server_uuid_file} is missing "
            "and the server folder is not readable by you; ask the project's owner to run "
            "'pipl proj start' (it records the server's identity)"
        )
    return uuid
