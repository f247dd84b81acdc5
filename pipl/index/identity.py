"""What answers at a server URL: the project's devpi-server, another one, or another program.

A devpi-server's ``/+status`` reports the uuid of its server folder (and the folder); pipl
compares the uuid with the project's before it sends any credential
(``pipl.index.session.check_server``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class ServerAnswer:
    """What answered ``GET /+status``, asked without credentials."""

    devpi: bool
    uuid: str | None = None
    serverdir: str | None = None
    detail: str = ""  # for anything but devpi-server: what it answered


def answer_of(response: httpx.Response) -> ServerAnswer:
    result: Any = None
    try:
        body = response.json()
        result = body.get("result") if isinstance(body, dict) else None
    except ValueError:
        pass
    if response.status_code == 200 and isinstance(result, dict) and result.get("uuid"):
        serverdir = result.get("serverdir")
        return ServerAnswer(True, str(result["uuid"]), str(serverdir) if serverdir else None)
    detail = f"HTTP {response.status_code} for /+status"
    if response.headers.get("server"):
        detail += f", Server: {response.headers['server']}"
    return ServerAnswer(False, detail=detail)
