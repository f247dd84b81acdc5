"""A pipl project on disk: where its server data, secrets and run files live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipl.errors import ProjectError
from pipl.project.config import FILENAME, PiplToml, ProjectConfig
from pipl.project.secrets import SecretStore

CI_USER_SUFFIX = "-ci"  # the CI runner's devpi user is the owner's name and this
WEBHOOK_SECRET = "ci-webhook.secret"  # noqa: S105 - the file of the webhooks' key, not a secret

ENV_PROJECT = "PIPL_PROJECT"


@dataclass(frozen=True)
class ProjectFiles:
    """Where a project keeps its files under ``.pipl/``. Needs only the root folder, so
    the server can be found and stopped even when ``pipl.toml`` is broken."""

    root: Path

    @property
    def label(self) -> str:
        """How messages name the project."""
        return f"at {self.root}"

    @property
    def state_dir(self) -> Path:
        return self.root / ".pipl"

    @property
    def serverdir(self) -> Path:
        return self.state_dir / "devpi"

    @property
    def server_uuid_file(self) -> Path:
        """The uuid of the project's devpi server folder, readable by every user."""
        return self.state_dir / "server-uuid"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "server.pid"

    @property
    def logfile(self) -> Path:
        return self.run_dir / "server.log"

    @property
    def secrets(self) -> SecretStore:
        return SecretStore(self.state_dir / "secrets")


@dataclass(frozen=True)
class Project(ProjectFiles):
    """A project folder: ``pipl.toml`` at its root, pipl's own state under ``.pipl/``."""

    config: ProjectConfig

    @classmethod
    def load(cls, root: Path) -> Project:
        root = Path(root).resolve()
        return cls(root=root, config=PiplToml.read(root / FILENAME).project())

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def label(self) -> str:
        return repr(self.config.name)

    # -- the server and its indexes --------------------------------------------------
    @property
    def url(self) -> str:
        host = self.config.host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - listening everywhere; talk to loopback
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.config.port}"

    def ensure_ci_secrets(self) -> None:
        """Generate the CI user's password and the webhooks' key (0600 files) if missing."""
        import secrets as random

        from pipl.fsutil import write_private

        if self.secrets.password(self.ci_user) is None:
            self.secrets.set_password(self.ci_user, random.token_urlsafe(24))
        secret = self.secrets.path / WEBHOOK_SECRET
        if not secret.exists():
            write_private(secret, random.token_urlsafe(32) + "\n")

    @property
    def owner(self) -> str:
        """The devpi user that owns the project's base and stage indexes."""
        return self.config.name

    @property
    def ci_user(self) -> str:
        """The devpi user the CI runner acts as (its password is among the secrets)."""
        return f"{self.owner}{CI_USER_SUFFIX}"

    @property
    def base_index(self) -> str:
        return f"{self.owner}/base"

    @property
    def stage_indexes(self) -> list[str]:
        return [f"{self.owner}/{stage}" for stage in self.config.stages]

    def stage_index(self, stage: str | None = None) -> str:
        """The index of ``stage`` (the first stage by default)."""
        stages = self.config.stages
        if stage is None:
            stage = stages[0]
        if stage not in stages:
            raise ProjectError(
                f"unknown stage {stage!r}: this project's stages are {', '.join(stages)}"
            )
        return f"{self.owner}/{stage}"

    def simple_url(self, index: str | None = None) -> str:
        """The PEP 503 URL pip and uv install from (the first stage by default)."""
        return f"{self.url}/{index or self.stage_index()}/+simple/"


def find_project_root(
    start: Path | None = None, override: str | os.PathLike[str] | None = None
) -> Path:
    """The folder of the project named by ``override`` or ``$PIPL_PROJECT``, else of the
    one above ``start`` (``pipl.toml`` is found, not read)."""
    explicit = override or os.environ.get(ENV_PROJECT)
    if explicit:
        root = Path(explicit).expanduser()
        if not (root / FILENAME).is_file():
            raise ProjectError(f"{root} is not a pipl project (no {FILENAME} there)")
        return root.resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / FILENAME).is_file():
            return folder
    raise ProjectError(
        f"no pipl project at or above {here}: cd into one, pass --project PATH "
        f"or set {ENV_PROJECT} (create one with 'pipl proj create PATH')"
    )


def find_project(
    start: Path | None = None, override: str | os.PathLike[str] | None = None
) -> Project:
    """The project named by ``override`` or ``$PIPL_PROJECT``, else the one above ``start``."""
    return Project.load(find_project_root(start, override))
