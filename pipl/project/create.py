"""``pipl proj create``: a new project folder with an initialized devpi server directory."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from pipl import names
from pipl.errors import ProjectError, UsageError
from pipl.fsutil import atomic_write, private_dir
from pipl.project.config import DEFAULT_PORT, DEFAULT_STAGES, FILENAME, ProjectConfig
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


def create_project(
    path: Path,
    *,
    name: str | None = None,
    port: int | None = None,
    stages: list[str] | None = None,
    pypi_mirror: bool = True,
    server_args: list[str] | None = None,
    runner: Runner | None = None,
) -> Project:
    """Create a project at ``path`` (absent or empty) and return it.

    The project is built in a temporary sibling folder and moved into place at the end,
    so a failure leaves nothing behind.
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
    )
    _check_target(path)

    first_missing = _first_missing_ancestor(path.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.creating-", dir=path.parent))
    try:
        _populate(tmp, config, runner or Runner())
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


def _populate(root: Path, config: ProjectConfig, runner: Runner) -> None:
    root.chmod(0o755)
    atomic_write(root / FILENAME, config.to_toml())
    # readable by the project's other users; the secrets and devpi's data stay private
    state = root / ".pipl"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    atomic_write(state / ".gitignore", "# pipl's server data, secrets and run files\n*\n")
    store = SecretStore(state / "secrets")
    store.create()
    root_password = new_password()
    store.set_password("root", root_password)
    store.set_password(config.name, new_password())
    argv: list[str | os.PathLike[str]] = [
        sys.executable,
        "-c",
        _DEVPI_INIT,
        "--serverdir",
        state / "devpi",
    ]
    if not config.pypi_mirror:
        argv.append("--no-root-pypi")
    private_dir(state / "devpi")
    runner.run(argv, input=root_password + "\n", secrets=[root_password])
    record_server_uuid(ProjectFiles(root))
