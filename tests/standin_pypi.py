"""A local stand-in for PyPI's simple API, for a project's devpi mirror (root/pypi).

It serves, on 127.0.0.1 only, what devpi's mirror asks PyPI for: the list of every
project name (``/simple/``), one page per project (``/simple/<name>/``, PEP 691 JSON) and
the files those pages link to. ``filler`` adds that many made-up names to the list, so
fetching it costs about what fetching PyPI's does. Every path asked for is recorded.

    with StandInPyPI([wheel], filler=700_000) as pypi:
        admin.modify_index("root/pypi", mirror_url=pypi.url)
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

JSON_V1 = "application/vnd.pypi.simple.v1+json"


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _project_of(filename: str) -> str:
    return _normalize(filename.split("-", 1)[0])


class StandInPyPI:
    """Use as a context manager; ``url`` is the simple API's address for ``mirror_url``."""

    def __init__(self, files: Iterable[Path] = (), *, filler: int = 0) -> None:
        self.files = {Path(f).name: Path(f).read_bytes() for f in files}
        self.requests: list[str] = []
        self._lock = threading.Lock()
        names = sorted({_project_of(f) for f in self.files})
        names += [f"standin-filler-{i:07d}" for i in range(filler)]
        self._list = json.dumps(
            {
                "meta": {"api-version": "1.0", "_last-serial": 1},
                "projects": [{"name": n} for n in names],
            }
        ).encode()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple/"

    def __enter__(self) -> StandInPyPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def asked(self, path: str) -> int:
        """How many requests asked for ``path``."""
        with self._lock:
            return self.requests.count(path)

    def _page(self, project: str) -> bytes | None:
        files = [
            {
                "filename": name,
                "url": f"http://127.0.0.1:{self.port}/files/{name}",
                "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
            }
            for name, data in sorted(self.files.items())
            if _project_of(name) == project
        ]
        if not files:
            return None
        body = {"meta": {"api-version": "1.0", "_last-serial": 1}, "name": project, "files": files}
        return json.dumps(body).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with standin._lock:
                    standin.requests.append(path)
                parts = [p for p in path.split("/") if p]
                if parts == ["simple"]:
                    self._send(standin._list, JSON_V1)
                elif len(parts) == 2 and parts[0] == "simple":
                    self._send(standin._page(_normalize(parts[1])), JSON_V1)
                elif len(parts) == 2 and parts[0] == "files" and parts[1] in standin.files:
                    self._send(standin.files[parts[1]], "application/octet-stream")
                else:
                    self._send(None)

            def _send(self, body: bytes | None, content_type: str = "text/plain") -> None:
                if body is None:
                    self.send_response(404)
                    body = b"not found"
                else:
                    self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-PyPI-Last-Serial", "1")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

        return Handler
