"""The project server's users, with the project's own rules.

- ``root`` and the project's owner are needed by the project: they cannot be removed;
- pipl keeps both their passwords in the project's secrets: changing one through pipl
  updates the secret and forgets the tokens cached for the old one.

A password change also ends that user's earlier logins on the server (pipl's devpi
plugin answers their tokens as anonymous requests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pipl import names
from pipl.errors import AuthError, UsageError
from pipl.index.client import IndexClient
from pipl.project.project import Project


@dataclass(frozen=True)
class UserInfo:
    name: str
    email: str
    indexes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "email": self.email, "indexes": self.indexes}


@dataclass(frozen=True)
class UserChange:
    name: str
    password: bool
    email: bool
    secrets_updated: bool = False  # the project's secrets hold the new password

    @property
    def changed(self) -> list[str]:
        return [x for x, done in (("password", self.password), ("email", self.email)) if done]


def project_users(project: Project) -> tuple[str, str]:
    """The users the project cannot do without: root and its owner."""
    return ("root", project.owner)


def list_users(client: IndexClient) -> list[UserInfo]:
    return [
        UserInfo(name, str(cfg.get("email") or ""), sorted(cfg.get("indexes") or {}))
        for name, cfg in sorted(client.users().items())
    ]


def add_user(client: IndexClient, name: str, password: str, *, email: str | None = None) -> None:
    names.check_user(name)
    client.create_user(name, password, email=email)


def change_user(
    project: Project,
    client: IndexClient,
    name: str,
    *,
    password: str | None = None,
    email: str | None = None,
) -> UserChange:
    """Change ``name``'s password and/or e-mail; keep the secrets in step for root and
    the owner."""
    names.check_user(name)
    if password is None and not email:
        raise UsageError("nothing to change: give a new password and/or an e-mail")
    secrets = project.secrets.path
    if (
        password is not None
        and name in project_users(project)
        and not os.access(secrets, os.W_OK | os.X_OK)
    ):
        raise AuthError(
            f"the project's secrets keep the password of {name!r} and you cannot write "
            f"{secrets}: ask the project's owner to change it"
        )
    client.modify_user(name, password=password, email=email)
    synced = False
    if password is not None and name in project_users(project):
        project.secrets.set_password(name, password)
        project.secrets.tokens.drop(project.url, name)
        synced = True
    return UserChange(name, password is not None, bool(email), synced)


def remove_user(project: Project, client: IndexClient, name: str) -> None:
    """Remove ``name`` and the indexes they own; root and the owner stay."""
    check_removable(project, name)
    client.delete_user(name)


def check_removable(project: Project, name: str) -> None:
    names.check_user(name)
    if name in project_users(project):
        raise UsageError(f"{name!r} is needed by the project and cannot be removed")


def ensure_ci_user(project: Project, admin: IndexClient) -> bool:
    """Create the CI runner's devpi user (its password in the 0600 secrets, made with the
    webhooks' key if missing) if missing; True when created."""
    project.ensure_ci_secrets()
    name = names.check_user(project.ci_user)
    password = project.secrets.password(name)
    assert password is not None
    if name in admin.users():
        return False
    admin.create_user(name, password)
    return True
