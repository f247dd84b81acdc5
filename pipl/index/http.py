"""HTTP plumbing of the index client: devpi's answers and transport failures as
``PiplError``s, and multipart form fields."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx

from pipl.errors import (
    AuthError,
    Conflict,
    Forbidden,
    IndexServerError,
    NotFound,
    ServerNotRunning,
)


def error_for(response: httpx.Response, what: str) -> IndexServerError:
    message = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            message = str(body.get("message") or "")
    except ValueError:
        pass
    if not message:
        lines = [line.strip() for line in response.text.splitlines() if line.strip()]
        message = response.reason_phrase or (lines[0] if lines else "")
    status = response.status_code
    text = f"{what}: {message} (HTTP {status})" if message else f"{what}: HTTP {status}"
    if status == 401:
        return AuthError(text, status=status)
    if status == 403:
        return Forbidden(text, status=status)
    if status == 404:
        return NotFound(text, status=status)
    if status == 409:
        return Conflict(text, status=status)
    return IndexServerError(text, status=status)


@contextlib.contextmanager
def transport(url: str, what: str) -> Iterator[None]:
    """Turn every transport failure of a request into one ``PiplError``."""
    try:
        yield
    except httpx.ConnectError:
        raise ServerNotRunning(
            f"no server answers at {url}: start it with 'pipl proj start --detach'"
        ) from None
    except httpx.TimeoutException:
        raise IndexServerError(f"{what}: the server at {url} did not answer in time") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # every other transport failure
        raise IndexServerError(
            f"{what}: the connection to {url} failed ({describe(exc)}); "
            "is the program on that port the project's devpi-server?"
        ) from None


def describe(exc: Exception) -> str:
    text = str(exc).strip().rstrip(".")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def multidict(fields: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    data: dict[str, str | list[str]] = {}
    for key, value in fields:
        if key in data:
            existing = data[key]
            data[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            data[key] = value
    return data
