"""Who pipl talks to the index as, and with which token.

Three identities, each logged in once and then carried by devpi's token:

- ``admin``: devpi's root, whose generated password is in the project's secrets;
- ``owner``: the project user owning the base and stage indexes (also in the secrets);
- ``user``: whoever ran ``pipl proj login`` on this machine, else the owner when the
  secrets are readable (the file system decides who may act for the project).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pipl.errors import AuthError
from pipl.index.client import IndexClient
from pipl.project.project import Project
from pipl.project.secrets import Token, TokenCache

Identity = Literal["admin", "owner", "user", "anonymous"]


def user_token_cache() -> TokenCache:
    """Tokens of ``pipl proj login``, in the user's own config folder (0600)."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return TokenCache(Path(base) / "pipl" / "tokens.json")


def _user_key(project: Project) -> str:
    return f"{project.url} {project.root}"


def connect(project: Project, identity: Identity = "user") -> IndexClient:
    """An ``IndexClient`` for ``project``'s server, logged in as ``identity``."""
    client = IndexClient(project.url)
    try:
        if identity == "anonymous":
            return client
        if identity == "user":
            cache = user_token_cache()
            for user in cache.users(_user_key(project)):
                token = cache.get(_user_key(project), user)
                if token is not None:
                    client.use_token(token)
                    return client
            identity = "owner"
        user = "root" if identity == "admin" else project.owner
        _login_from_secrets(client, project, user)
        return client
    except BaseException:
        client.close()
        raise


def _login_from_secrets(client: IndexClient, project: Project, user: str) -> None:
    secrets = project.secrets
    token = secrets.tokens.get(project.url, user)
    if token is not None:
        client.use_token(token)
        return
    password = secrets.password(user)
    if password is None:
        raise AuthError(
            f"cannot act as {user!r}: the project's secrets are not readable by you; "
            "log in with 'pipl proj login USER'"
        )
    secrets.tokens.put(project.url, client.login(user, password))


def login(project: Project, user: str, password: str) -> Token:
    """Check ``user``'s password against the server and remember the token for this machine."""
    with IndexClient(project.url) as client:
        token = client.login(user, password)
    cache = user_token_cache()
    cache.drop(_user_key(project))
    cache.put(_user_key(project), token)
    return token


def logout(project: Project) -> None:
    user_token_cache().drop(_user_key(project))


def logged_in_user(project: Project) -> str | None:
    cache = user_token_cache()
    for user in cache.users(_user_key(project)):
        if cache.get(_user_key(project), user) is not None:
            return user
    return None
