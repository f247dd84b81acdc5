"""``[server]``'s checks: devpi-server flags pipl owns, storage, PostgreSQL, a primary.

``[server] args`` may not override a flag pipl sets itself (``check_server_args``); the
index lives in devpi's SQLite file or in PostgreSQL (``PostgresConfig``, from
``[server.postgresql]``); a replica names its primary's URL (``check_primary_url``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipl.errors import UsageError
from pipl.project.config.values import SettingError

# devpi-server flags pipl sets itself: the server's address, its data and secrets, and who
# may modify users and indexes. ``[server] args`` may not change them (devpi's argparse
# also takes any unambiguous prefix, e.g. ``--serverd``).
RESERVED_FLAGS = (
    "--host",
    "--port",
    "--listen",
    "--unix-socket",
    "--serverdir",
    "--secretfile",
    "--restrict-modify",
    "--configfile",
    "--passwd",
    "--root-passwd",
    "--root-passwd-hash",
    "--storage",
    "--primary-url",
)
_FLAG_HINTS = {
    "--storage": 'set [server] storage = "postgresql" and [server.postgresql]',
    "--primary-url": "make a replica with 'pipl proj replica PATH --primary-url URL'",
}
STORAGES = ("sqlite", "postgresql")
_PG_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}")
_HOST = re.compile(r"[A-Za-z0-9_.:-]{1,253}")
_URL = re.compile(r"https?://[A-Za-z0-9_.:\[\]-]+(/[A-Za-z0-9_./~-]*)?")


@dataclass(frozen=True)
class PostgresConfig:
    """Where devpi keeps the project's index when ``[server] storage = "postgresql"``
    (``[server.postgresql]``). The password is not here: it lives in a 0600 file under
    ``.pipl/secrets``."""

    host: str = "127.0.0.1"
    port: int = 5432
    database: str = "devpi"
    user: str = "devpi"

    def __post_init__(self) -> None:
        if not _HOST.fullmatch(self.host):
            raise UsageError(f"invalid PostgreSQL host {self.host!r}: use a host name or address")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise SettingError("server.postgresql", "port", "must be an integer")
        if not (1 <= self.port <= 65535):
            raise UsageError(f"invalid PostgreSQL port {self.port}: use a number from 1 to 65535")
        for what, value in (("database", self.database), ("user", self.user)):
            if not isinstance(value, str) or not _PG_NAME.fullmatch(value):
                raise UsageError(
                    f"invalid PostgreSQL {what} name {value!r}: use letters, digits, '_', "
                    "'.' or '-'"
                )

    @classmethod
    def from_dict(cls, data: dict[str, Any], project: str) -> PostgresConfig:
        """The table's values; database and user default to the project's name."""
        if not isinstance(data, dict):
            raise SettingError("server", "postgresql", "must be a table ([server.postgresql])")
        if "password" in data:
            raise SettingError(
                "server.postgresql",
                "",
                "may not hold the password: remove it from pipl.toml; it belongs in "
                ".pipl/secrets/postgresql-password, a 0600 file",
            )
        unknown = sorted(set(data) - {"host", "port", "database", "user"})
        if unknown:
            raise SettingError(
                "server.postgresql",
                unknown[0],
                "is not a setting (known: host, port, database, user)",
            )
        return cls(
            host=str(data.get("host", cls.host)),
            port=data.get("port", cls.port),
            database=str(data.get("database", project)),
            user=str(data.get("user", project)),
        )


def check_primary_url(url: str) -> str:
    """A replica's primary: an http(s) URL without credentials, query or spaces."""
    if not isinstance(url, str) or not _URL.fullmatch(url):
        raise UsageError(
            f"invalid primary URL {url!r}: use http(s)://HOST:PORT of the primary's server"
        )
    return url.rstrip("/")


def reserved_flag(arg: str) -> str | None:
    """The pipl-owned devpi-server flag ``arg`` would set, or None."""
    if arg.startswith("-c"):  # -c FILE, -cFILE
        return "--configfile"
    if not arg.startswith("--") or len(arg) < 3:
        return None
    name = arg.split("=", 1)[0]
    for flag in RESERVED_FLAGS:
        if flag.startswith(name):  # the flag itself, or a prefix devpi would expand to it
            return flag
    return None


def check_server_args(args: tuple[str, ...] | list[str]) -> None:
    """Refuse extra devpi-server arguments that would override pipl's own flags."""
    for arg in args:
        flag = reserved_flag(arg)
        if flag is not None:
            hint = _FLAG_HINTS.get(
                flag,
                "set host and port in [server]; the server folder and secrets stay under .pipl",
            )
            raise UsageError(
                f"[server] args may not contain {arg!r}: pipl sets {flag} itself ({hint})"
            )
