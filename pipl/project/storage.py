"""Where devpi keeps a project's index: its SQLite file, or PostgreSQL (devpi-postgresql).

For PostgreSQL, devpi-server and devpi-init read the connection from a devpi config file
(``--configfile``) that pipl writes 0600 under ``.pipl/secrets`` before each run, from
``[server.postgresql]`` and the password file beside it: the password is never on a
command line nor in ``pipl.toml``.
"""

from __future__ import annotations

import importlib.util
import re
from urllib.parse import unquote, urlsplit

from pipl.errors import ProjectError, UsageError
from pipl.fsutil import private_dir, write_private
from pipl.project.config import PostgresConfig, ProjectConfig
from pipl.project.secrets import SecretStore

# devpi-postgresql's name for its storage backend (it talks to PostgreSQL through pg8000)
BACKEND = "pg8000"
# no ".password" suffix: the devpi users' password files are named USER.password
PASSWORD_FILE = "postgresql-password"  # noqa: S105 - the name of the file holding it
CONFIG_FILE = "devpi-server.yml"


def parse_url(url: str, project: str) -> PostgresConfig:
    """``postgresql://USER@HOST:PORT/DATABASE`` as a ``PostgresConfig`` (a URL holding a
    password is refused: it would sit in the shell's history and the process list)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise UsageError(
            f"invalid PostgreSQL URL {url!r}: use postgresql://USER@HOST:PORT/DATABASE"
        )
    if parts.password is not None:
        raise UsageError(
            "the PostgreSQL URL holds a password: leave it out and pass the password on "
            "stdin (--storage-password-stdin), so it never shows on a command line"
        )
    try:
        port = parts.port or 5432
    except ValueError:
        raise UsageError(f"invalid port in the PostgreSQL URL {url!r}") from None
    database = unquote(parts.path.lstrip("/")) or project
    return PostgresConfig(
        host=parts.hostname,
        port=port,
        database=database,
        user=unquote(parts.username or "") or project,
    )


def save_password(secrets: SecretStore, password: str) -> None:
    """Keep the PostgreSQL password in its 0600 file."""
    if not password or "\n" in password or "\r" in password:
        raise UsageError("the PostgreSQL password must be one non-empty line")
    private_dir(secrets.path)
    write_private(secrets.path / PASSWORD_FILE, password + "\n")


def _yaml_string(value: str) -> str:
    """``value`` as a single-quoted YAML scalar (a quote is doubled)."""
    if re.search(r"[\x00-\x1f]", value):
        raise UsageError("the PostgreSQL settings may not hold control characters")
    return "'" + value.replace("'", "''") + "'"


def devpi_args(config: ProjectConfig, secrets: SecretStore) -> list[str]:
    """The devpi-server / devpi-init arguments selecting the project's storage.

    For PostgreSQL this writes the devpi config file holding the connection (0600) and
    returns ``--configfile`` naming it; for SQLite, nothing (devpi's default)."""
    pg = config.postgresql
    if config.storage != "postgresql" or pg is None:
        return []
    if importlib.util.find_spec("devpi_postgresql") is None:
        raise ProjectError(
            '[server] storage = "postgresql" needs devpi-postgresql beside devpi-server: '
            "install it with pip install 'pipl[postgresql]'"
        )
    pw_file = secrets.path / PASSWORD_FILE
    try:
        password = pw_file.read_text().strip()
    except FileNotFoundError:
        raise ProjectError(
            f"{pw_file} is missing: write the PostgreSQL password of user {pg.user!r} "
            f"into it (one line, chmod 600)"
        ) from None
    except PermissionError:
        raise ProjectError(
            f"cannot read {pw_file}: only the project's owner can start its server"
        ) from None
    lines = [
        "devpi-server:",
        "  storage:",
        f"    name: {BACKEND}",
        f"    host: {_yaml_string(pg.host)}",
        f"    port: {_yaml_string(str(pg.port))}",
        f"    database: {_yaml_string(pg.database)}",
        f"    user: {_yaml_string(pg.user)}",
        f"    password: {_yaml_string(password)}",
    ]
    path = secrets.path / CONFIG_FILE
    write_private(path, "\n".join(lines) + "\n")
    return ["--configfile", str(path)]
