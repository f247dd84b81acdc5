"""pipl's Python client API (``pipl.Client``) and the HTTP JSON API behind it.

One ``Client`` drives a project, either locally (``Client.from_project(path)``: the
project's files and its server, as the user of this machine) or remotely
(``Client(url, token=...)``: the HTTP API served by the project's runner). Both go through
the same operations (``pipl.api.ops``), carried out by ``pipl.api.service`` on the
project's side and answered as JSON, which the client turns into dataclasses.

The client side (this package minus ``service`` and ``http``) needs only the standard
library, httpx and pipl-pipe: a remote machine does not need devpi-server.
"""

from pipl.api.client import Client
from pipl.errors import PiplError

__all__ = ["Client", "PiplError"]
