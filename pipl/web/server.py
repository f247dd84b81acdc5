"""Serving the web application from the runner process, in threads of its own.

The runner keeps working whatever the web does: each request has its own thread (a slow
browser holds only that thread), pages read the databases without writing, and a log
follower polls with offsets instead of holding a stream open.
"""

from __future__ import annotations

import contextlib
import logging
import socketserver
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from pipl.errors import ServerError
from pipl.fsutil import atomic_write
from pipl.project.project import Project
from pipl.web.config import load_web_config, url_file

log = logging.getLogger("pipl.web")


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(WSGIRequestHandler):
    timeout = 30  # seconds a connection may stay silent before it is dropped

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class WebServer:
    """The dashboard and API of ``project``, listening once ``start`` returns."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.config = load_web_config(project)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise ServerError("the web server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        from pipl.web.app import WebApp

        app = WebApp(self.project)
        try:
            self._server = make_server(
                self.config.host,
                self.config.port,
                app,
                server_class=_Server,
                handler_class=_Handler,
            )
        except OSError as exc:
            raise ServerError(
                f"the dashboard cannot listen on {self.config.host}:{self.config.port} "
                f"({exc.strerror}): set another [web] port in pipl.toml"
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="pipl-web", daemon=True
        )
        self._thread.start()
        url_file(self.project).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(url_file(self.project), self.url + "\n")
        return self.url

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            url_file(self.project).unlink()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
