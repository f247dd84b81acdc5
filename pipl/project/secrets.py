"""Secrets of a project: generated passwords, devpi's server secret, cached login tokens.

All live under ``.pipl/secrets`` (0700) in 0600 files, so the file system decides who may
act as the project's administrator. Passwords never travel per request: clients log in
once and reuse devpi's token until it nears expiry.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from pipl.fsutil import locked, private_dir, write_private

# a token is renewed when less than this many seconds of its life remain
TOKEN_MARGIN = 300


def new_password() -> str:
    """A random password that never starts with "-" (a command line would take it for an
    option: ``twine upload -p -x...``)."""
    while True:
        password = secrets.token_urlsafe(24)
        if not password.startswith("-"):
            return password


def new_server_secret() -> bytes:
    """A secret in the form devpi-gen-secret writes (base64 of 32 random bytes)."""
    return base64.b64encode(secrets.token_bytes(32))


@dataclass(frozen=True)
class Token:
    user: str
    token: str
    expires: float

    @property
    def fresh(self) -> bool:
        return self.expires - time.time() > TOKEN_MARGIN


class TokenCache:
    """Login tokens in one 0600 JSON file, keyed by server URL and user. Changes happen
    under the file's lock, so two commands logging in at once both keep their token."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, dict[str, dict[str, object]]]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, PermissionError, ValueError):
            # a cache this user may not read holds no token for them
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict[str, dict[str, dict[str, object]]]) -> None:
        write_private(self.path, json.dumps(data, indent=1))

    def get(self, url: str, user: str) -> Token | None:
        entry = self._load().get(url, {}).get(user)
        if not isinstance(entry, dict):
            return None
        try:
            token = Token(user, str(entry["token"]), float(entry["expires"]))  # type: ignore[arg-type]  # json values
        except (KeyError, TypeError, ValueError):
            return None
        return token if token.fresh else None

    def users(self, url: str) -> list[str]:
        return sorted(self._load().get(url, {}))

    def put(self, url: str, token: Token) -> None:
        """Keep ``token`` beside the other users' tokens for ``url``."""
        self._change(url, token, keep_others=True)

    def replace(self, url: str, token: Token) -> None:
        """Keep ``token`` as the only one for ``url``."""
        self._change(url, token, keep_others=False)

    def _change(self, url: str, token: Token, *, keep_others: bool) -> None:
        private_dir(self.path.parent)
        with locked(self.path):
            data = self._load()
            if not keep_others:
                data.pop(url, None)
            entry = {"token": token.token, "expires": token.expires}
            data.setdefault(url, {})[token.user] = entry
            self._save(data)

    def drop(self, url: str, user: str | None = None) -> None:
        if not self.path.exists():
            return
        with locked(self.path):
            data = self._load()
            if url not in data:
                return
            if user is None:
                del data[url]
            else:
                data[url].pop(user, None)
            self._save(data)


class SecretStore:
    """The project's ``.pipl/secrets`` folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def server_secret_file(self) -> Path:
        return self.path / "devpi-secret"

    def password_file(self, user: str) -> Path:
        return self.path / f"{user}.password"

    def create(self) -> None:
        private_dir(self.path)
        write_private(self.server_secret_file, new_server_secret())

    def password(self, user: str) -> str | None:
        try:
            return self.password_file(user).read_text().strip() or None
        except (FileNotFoundError, PermissionError):
            return None

    def set_password(self, user: str, password: str) -> None:
        private_dir(self.path)
        write_private(self.password_file(user), password + "\n")

    @property
    def tokens(self) -> TokenCache:
        return TokenCache(self.path / "tokens.json")
