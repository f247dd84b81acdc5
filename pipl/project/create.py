"""``pipl proj create``: a new project folder with an initialized devpi server directory."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipl import names
from pipl.errors import CommandError, ProjectError, UsageError
from pipl.fsutil import atomic_write, private_dir, write_private
from pipl.project import storage
from pipl.project.config import (
    DEFAULT_PORT,
    DEFAULT_STAGES,
    FILENAME,
    PostgresConfig,
    ProjectConfig,
)
from pipl.project.project import Project, ProjectFiles
from pipl.project.secrets import SecretStore, new_password
from pipl.project.serverid import record_server_uuid
from pipl.runner import Runner

# devpi-init reads the root password from stdin and stores only its hash: the password is
# never on a command line.
_DEVPI_INIT = """\
import sys
from devpi_server.auth import hash_password
from devpi_server.init import init
password = sys.stdin.readline().strip()
sys.exit(init(argv=["devpi-init", *sys.argv[1:], "--root-passwd-hash", hash_password(password)]))
"""
# a replica's users and indexes come from its primary: it has no root password of its own
_DEVPI_INIT_REPLICA = """\
import sys
from devpi_server.init import init
sys.exit(init(argv=["devpi-init", *sys.argv[1:]]))
"""


def create_project(
    path: Path,
    *,
    name: str | None = None,
    port: int | None = None,
    stages: list[str] | None = None,
    pypi_mirror: bool = True,
    server_args: list[str] | None = None,
    postgresql: PostgresConfig | None = None,
    storage_password: str | None = None,
    replica_of: Replica | None = None,
    runner: Runner | None = None,
) -> Project:
    """Create a project at ``path`` (absent or empty) and return it.

    With ``postgresql``, devpi keeps the index in that database (``storage_password`` is
    kept in a 0600 file). With ``replica_of``, the project's server is a replica
    of another project's server. The project folder is built in a temporary sibling folder
    and moved into place at the end, so a failure leaves nothing behind (tables devpi made
    in a PostgreSQL database stay there).
    """
    path = Path(path).expanduser().absolute()
    name = name or path.name
    try:
        names.check_simple(name, "project")
    except UsageError as exc:
        raise UsageError(f"{exc} (pass --name NAME when the folder name does not fit)") from None
    config = ProjectConfig(
        name=name,
        port=port or DEFAULT_PORT,
        stages=tuple(stages or DEFAULT_STAGES),
        pypi_mirror=pypi_mirror,
        server_args=tuple(server_args or ()),
        storage="postgresql" if postgresql else "sqlite",
        postgresql=postgresql,
        primary_url=replica_of.primary_url if replica_of else None,
    )
    if postgresql is not None and not storage_password:
        raise UsageError("a project on PostgreSQL needs the database user's password")
    _check_target(path)

    first_missing = _first_missing_ancestor(path.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.creating-", dir=path.parent))
    try:
        _populate(tmp, config, runner or Runner(), storage_password, replica_of)
        os.replace(tmp, path)  # onto an empty folder or a new name
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if first_missing is not None:
            shutil.rmtree(first_missing, ignore_errors=True)
        raise
    return Project.load(path)


def _check_target(path: Path) -> None:
    if (path / FILENAME).exists():
        raise ProjectError(f"{path} is already a pipl project; use it, or pick another folder")
    if path.exists() and not path.is_dir():
        raise ProjectError(f"{path} exists and is not a folder; pick another path")
    if path.is_dir() and any(path.iterdir()):
        raise ProjectError(f"{path} is not empty; create the project in a new or empty folder")
    for parent in path.parents:
        if (parent / FILENAME).is_file():
            raise ProjectError(
                f"{path} is inside the pipl project at {parent}; projects cannot nest"
            )


def _first_missing_ancestor(folder: Path) -> Path | None:
    missing = None
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def _init_failed(config: ProjectConfig, output: str) -> CommandError:
    """devpi-init's failure in one line: its last line, and where to look."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    last = lines[-1] if lines else "no output"
    where = ""
    if config.postgresql is not None:
        pg = config.postgresql
        where = (
            f" (PostgreSQL database {pg.database!r} of user {pg.user!r} at {pg.host}:{pg.port}: "
            "check the URL, the password and that the database exists)"
        )
    return CommandError(f"devpi-init failed: {last}{where}")


@dataclass(frozen=True)
class Replica:
    """What a replica needs from its primary: its URL and its server secret (the primary
    accepts a replica that signs its requests with it)."""

    primary_url: str
    server_secret: bytes


def _populate(
    root: Path,
    config: ProjectConfig,
    runner: Runner,
    storage_password: str | None,
    replica_of: Replica | None,
) -> None:
    root.chmod(0o755)
    atomic_write(root / FILENAME, config.to_toml())
    # readable by the project's other users; the secrets and devpi's data stay private
    state = root / ".pipl"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    atomic_write(state / ".gitignore", "# pipl's server data, secrets and run files\n*\n")
    store = SecretStore(state / "secrets")
    store.create()
    if storage_password is not None:
        storage.save_password(store, storage_password)
    argv: list[str | os.PathLike[str]] = [
        sys.executable,
        "-c",
        _DEVPI_INIT,
        "--serverdir",
        state / "devpi",
        *storage.devpi_args(config, store),
    ]
    private_dir(state / "devpi")
    if replica_of is not None:
        # users, passwords and indexes come from the primary
        write_private(store.server_secret_file, replica_of.server_secret)
        argv[2] = _DEVPI_INIT_REPLICA
        done = runner.run([*argv, "--primary-url", replica_of.primary_url], check=False)
        if done.returncode != 0:
            raise _init_failed(config, done.stderr or done.stdout)
        record_server_uuid(ProjectFiles(root))
        return
    root_password = new_password()
    store.set_password("root", root_password)
    store.set_password(config.name, new_password())
    if not config.pypi_mirror:
        argv.append("--no-root-pypi")
    done = runner.run(argv, input=root_password + "\n", secrets=[root_password], check=False)
    if done.returncode != 0:
        raise _init_failed(config, (done.stderr or done.stdout).replace(root_password, "***"))
    record_server_uuid(ProjectFiles(root))
