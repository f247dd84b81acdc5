"""How a ``Client`` reaches its project: over HTTP, or in this process.

Both transports take an operation's route and its parameters and give back JSON values,
so the client's methods are written once. Errors come back as ``PiplError``s of the same
class either way (the HTTP API names the class in its error answers).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pipl import errors
from pipl.api.ops import Route

if TYPE_CHECKING:
    from pipl.api.service import Context

AUTH_HEADER = "X-Devpi-Auth"  # the same header, and value, as devpi's own API


class Transport(Protocol):
    def call(self, route: Route, params: dict[str, Any]) -> Any: ...

    def download(self, path: str) -> Iterator[bytes]: ...

    def set_token(self, token: str | None) -> None: ...

    def close(self) -> None: ...


def error_from(answer: dict[str, Any], status: int) -> errors.PiplError:
    """The ``PiplError`` an HTTP API error answer stands for."""
    kind = str(answer.get("kind", ""))
    message = str(answer.get("message", f"the API answered HTTP {status}"))
    return errors.error_for_answer(kind, message, status)


class HttpTransport:
    """Operations over the HTTP API of a project's runner (``Client(url, token=...)``)."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 60.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        headers = {AUTH_HEADER: token} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def set_token(self, token: str | None) -> None:
        if token:
            self._http.headers[AUTH_HEADER] = token
        else:
            self._http.headers.pop(AUTH_HEADER, None)

    def call(self, route: Route, params: dict[str, Any]) -> Any:
        import httpx

        path, rest = route.url(params)
        rest = {k: v for k, v in rest.items() if v is not None}
        try:
            if route.method == "GET":
                query = {
                    k: json.dumps(v) if isinstance(v, (list, dict, bool)) else v
                    for k, v in rest.items()
                }
                response = self._http.get(path, params=query)
            else:
                response = self._http.post(path, json=rest)
        except httpx.HTTPError as exc:
            raise errors.ServerError(
                f"cannot reach pipl's API at {self.url} ({type(exc).__name__}: {exc}): "
                "is the project started ('pipl proj start') and the URL right?"
            ) from None
        try:
            body = response.json()
        except ValueError:
            raise errors.ServerError(
                f"{self.url} answered HTTP {response.status_code} without JSON: "
                "is this the URL of a pipl project's web server?"
            ) from None
        if response.status_code >= 400:
            raise error_from(
                body.get("error", {}) if isinstance(body, dict) else {}, response.status_code
            )
        return body.get("result") if isinstance(body, dict) else body

    def download(self, path: str) -> Iterator[bytes]:
        """The bytes the dashboard serves at ``path`` (an asset's download), streamed."""
        import httpx

        try:
            with self._http.stream("GET", path) as response:
                if response.status_code != 200:
                    response.read()
                    try:
                        body = response.json()
                    except ValueError:
                        body = {}
                    raise error_from(
                        body.get("error", {}) if isinstance(body, dict) else {},
                        response.status_code,
                    )
                yield from response.iter_bytes(1 << 20)
        except httpx.HTTPError as exc:
            raise errors.ServerError(
                f"the download of {path} from {self.url} broke off ({type(exc).__name__}): "
                "try again"
            ) from None

    def close(self) -> None:
        self._http.close()


class LocalTransport:
    """Operations carried out in this process, on the project's own files and server, as
    the user of this machine (``Client.from_project(path)``)."""

    def __init__(self, root: Path) -> None:
        from pipl.api.service import Context

        self.context: Context = Context.local(root)

    def call(self, route: Route, params: dict[str, Any]) -> Any:
        from pipl.api import service
        from pipl.api.models import to_json

        self.context.memo.clear()  # each call reads afresh, as each HTTP request does
        # through JSON, as over HTTP: both transports hand the client the same values
        return json.loads(json.dumps(to_json(service.dispatch(self.context, route.name, params))))

    def download(self, path: str) -> Iterator[bytes]:
        from pipl.api.service.products import download

        return download(self.context, path)

    def set_token(self, token: str | None) -> None:
        from pipl.api.service import Caller, caller_of

        self.context.use(caller_of(token) if token else Caller())

    def close(self) -> None:
        self.context.close()
