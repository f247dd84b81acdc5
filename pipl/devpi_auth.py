"""pipl's devpi-server plugin for logins: a password change ends the logins made before it.

devpi's login tokens name their user and are signed with the server's secret; devpi keeps
accepting them for their whole life (10 hours) after the user's password changed. So a
token copied before root reset a password would keep working. This plugin, loaded by
devpi-server through the ``devpi_server`` entry point, closes that gap:

- when a request sets a user's password (``PATCH /USER`` with a ``password``) or removes a
  user (``DELETE /USER``) and succeeds, it records the time in the server folder
  (``.pipl-credentials.json``), then answers once that second has passed;
- a request carrying a token of that user signed before that time is served as an
  anonymous one, and its answer has the header ``X-Pipl-Auth: revoked`` (pipl's client
  turns it into "log in again").

It runs inside devpi-server's process: it imports nothing heavy and never raises into
devpi (a failure is logged and the request goes on unchanged).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pluggy import HookimplMarker

hookimpl = HookimplMarker("devpiserver")
log = logging.getLogger("pipl.devpi_auth")

HEADER = "X-Pipl-Auth"
REVOKED = "revoked"
FILENAME = ".pipl-credentials.json"
_TOKEN_LIFE = 60 * 60 * 10  # devpi's Auth.LOGIN_EXPIRATION


class Credentials:
    """When each user's credentials last changed, kept in one JSON file of the server folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        self._changed: dict[str, int] = {
            str(k): int(v) for k, v in (data if isinstance(data, dict) else {}).items()
        }

    def changed_at(self, user: str) -> int | None:
        return self._changed.get(user)

    def record(self, user: str) -> int:
        """Record a change now; tokens signed before the returned second are revoked."""
        since = math.floor(time.time()) + 1
        with self._lock:
            self._changed[user] = since
            text = json.dumps(self._changed, indent=1, sort_keys=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{FILENAME}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return since


def _credentials(request: Any) -> tuple[str, str, str] | None:
    """(header, user, secret) from devpi's X-Devpi-Auth header or HTTP Basic auth."""
    for header, prefix in (("X-Devpi-Auth", ""), ("Authorization", "Basic ")):
        value = request.headers.get(header)
        if not value or not value.startswith(prefix):
            continue
        try:
            raw = base64.b64decode(value[len(prefix) :].strip()).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
        user, sep, secret = raw.partition(":")
        if sep:
            return header, user, secret
    return None


def _signed_at(xom: Any, token: str) -> float | None:
    """When devpi signed ``token`` (None: not one of this server's login tokens)."""
    import itsdangerous

    serializer = itsdangerous.TimedSerializer(xom.config.get_auth_secret())
    try:
        _, signed = serializer.loads(token, max_age=_TOKEN_LIFE, return_timestamp=True)
    except itsdangerous.BadData:
        return None
    return float(signed.timestamp())


def _changed_user(request: Any, response: Any) -> str | None:
    """The user whose credentials this successful request changed, if any."""
    route = getattr(request, "matched_route", None)
    if route is None or route.name != "/{user}" or not 200 <= response.status_code < 300:
        return None
    user = request.matchdict.get("user")
    if request.method == "DELETE":
        return str(user)
    if request.method == "PATCH":
        with contextlib.suppress(ValueError, AttributeError):
            body = request.json_body
            if isinstance(body, dict) and "password" in body:
                return str(user)
    return None


def tween_factory(handler: Callable[[Any], Any], registry: Any) -> Callable[[Any], Any]:
    state: dict[str, Credentials] = {}

    def credentials() -> Credentials:
        if "store" not in state:
            state["store"] = Credentials(Path(registry["xom"].config.server_path) / FILENAME)
        return state["store"]

    def tween(request: Any) -> Any:
        revoked = False
        try:
            found = _credentials(request)
            if found is not None:
                header, user, token = found
                since = credentials().changed_at(user)
                if since is not None:
                    signed = _signed_at(registry["xom"], token)
                    if signed is not None and signed < since:
                        del request.headers[header]  # served as anonymous
                        revoked = True
        except Exception:  # never break a request over this check
            log.exception("pipl: checking a login token failed")
        response = handler(request)
        if revoked:
            response.headers[HEADER] = REVOKED
        try:
            changed = _changed_user(request, response)
            if changed is not None:
                until = credentials().record(changed)
                # answer once the tokens signed before the change are told apart by time
                time.sleep(max(0.0, until - time.time()))
        except Exception:
            log.exception("pipl: recording a credential change failed")
        return response

    return tween


@hookimpl
def devpiserver_pyramid_configure(config: Any, pyramid_config: Any) -> None:
    from pyramid.tweens import INGRESS

    # outermost: sees the request before anything reads its identity, and the answer
    # after devpi committed the change
    pyramid_config.add_tween("pipl.devpi_auth.tween_factory", under=INGRESS)
