"""pipl's Python client API (``pipl.Client``) and the HTTP JSON API behind it.

One ``Client`` drives a project, either locally (``Client.from_project(path)``: the
project's files and its server, as the user of this machine) or remotely
(``Client(url, token=...)``: the HTTP API served by the project's runner). Both go through
the same operations, each declared once on the function of ``pipl.api.service`` that
carries it out on the project's side (``pipl.api.ops``), and answered as JSON, which the
client turns into the dataclasses of this package's domain modules (``jobs``,
``releases``, ``pipelines``...).

The client side (``client/``, the domain modules, ``models``, ``ops``, ``transport``)
needs only the standard library, httpx and pipl-pipe: a remote machine does not need
devpi-server (``client/operations/`` is written from the service by ``make api``).
"""

from pipl.api.client import Client
from pipl.errors import PiplError

__all__ = ["Client", "PiplError"]
