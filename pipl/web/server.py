"""Serving the web application from the runner process, with waitress in threads of its own.

The runner keeps working whatever the web does: waitress reads requests in one thread and
answers them from a fixed pool of worker threads (a slow browser holds only its
connection), pages read the databases without writing, and a log follower polls with
offsets instead of holding a stream open. A request whose headers announce too large a
body, or lack the credentials its operation needs, is refused before its body is read
(``pipl.web.channel``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from waitress import wasyncore
from waitress.server import BaseWSGIServer, create_server

from pipl.api.limits import LARGEST_BODY
from pipl.errors import ServerError
from pipl.fsutil import atomic_write
from pipl.project.project import Project
from pipl.web.address import load_web_config, url_file
from pipl.web.channel import CheckedChannel

log = logging.getLogger("pipl.web")

THREADS = 16  # requests answered at once; more wait, connected, in waitress's queue
SETTINGS: dict[str, Any] = {
    "threads": THREADS,
    "backlog": 1024,  # connections the kernel holds before waitress accepts them
    "connection_limit": 500,  # open connections; more wait in the backlog
    "channel_timeout": 30,  # seconds a connection may stay silent before it is closed
    "cleanup_interval": 10,
    "max_request_body_size": LARGEST_BODY + 1,  # routes have smaller bounds (api.limits)
    "asyncore_use_poll": True,  # poll(), not select(): no limit on descriptor numbers
    "ident": "pipl",
}


class WebServer:
    """The dashboard and API of ``project``, listening once ``start`` returns."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.config = load_web_config(project)
        self._server: Any = None
        self._map: dict[int, Any] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise ServerError("the web server is not started")
        server = self._server
        listening = getattr(server, "effective_listen", None)  # several: one per address
        host, port = listening[0] if listening else (server.effective_host, server.effective_port)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> str:
        from pipl.web.app import WebApp

        app = WebApp(self.project)
        try:
            self._server = create_server(
                app, map=self._map, host=self.config.host, port=self.config.port, **SETTINGS
            )
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise ServerError(
                f"the dashboard cannot listen on {self.config.host}:{self.config.port} "
                f"({reason}): set another [web] port in pipl.toml"
            ) from None
        for dispatcher in list(self._map.values()):
            if isinstance(dispatcher, BaseWSGIServer):
                dispatcher.channel_class = CheckedChannel
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="pipl-web", daemon=True)
        self._thread.start()
        url_file(self.project).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(url_file(self.project), self.url + "\n")
        return self.url

    def _serve(self) -> None:
        server = self._server
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=1.0, map=self._map, use_poll=True, count=1)
        finally:
            server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
            server.close()
            wasyncore.close_all(self._map)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            url_file(self.project).unlink()
        if self._server is None:
            return
        self._stopping.set()
        for dispatcher in list(self._map.values()):
            if isinstance(dispatcher, BaseWSGIServer):
                with contextlib.suppress(OSError):
                    dispatcher.pull_trigger()  # wake the loop out of poll()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None
