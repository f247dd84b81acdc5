"""Who pipl talks to the index as, with which token, and that the server is the project's.

Three identities, each logged in once and then carried by devpi's token:

- ``admin``: devpi's root, whose generated password is in the project's secrets;
- ``owner``: the project user owning the base and stage indexes (also in the secrets);
- ``user``: whoever ran ``pipl proj login`` on this machine, else the owner when the
  secrets are readable (the file system decides who may act for the project).

A user who cannot read the secrets acts as ``admin`` or ``owner`` only after logging in
as that devpi user. Before any credential is sent, the server answering at the project's
URL must be the project's own: its ``/+status`` reports the uuid of the project's server
folder (checked once per client).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pipl.errors import AuthError, WrongServer
from pipl.fsutil import private_dir
from pipl.index.client import IndexClient
from pipl.project.project import Project
from pipl.project.secrets import Token, TokenCache
from pipl.project.serverid import server_uuid

Identity = Literal["admin", "owner", "user", "anonymous"]


def user_token_cache() -> TokenCache:
    """Tokens of ``pipl proj login``, in the user's own config folder (0600)."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return TokenCache(Path(base) / "pipl" / "tokens.json")


def _user_key(project: Project) -> str:
    return f"{project.url} {project.root}"


def check_server(project: Project, client: IndexClient) -> None:
    """Raise ``WrongServer`` unless the server answering ``client`` is ``project``'s own."""
    answer = client.identify()  # nothing there: ServerNotRunning
    if answer.uuid == server_uuid(project):
        return
    port = project.config.port
    folder = answer.serverdir or ""
    if answer.devpi and folder.endswith("/.pipl/devpi"):
        what = f"the server of another pipl project (at {folder.removesuffix('/.pipl/devpi')})"
    elif answer.devpi:
        what = "another devpi-server" + (f" (server folder {folder})" if folder else "")
    else:
        what = f"a program that is not devpi-server ({answer.detail})"
    raise WrongServer(
        f"port {port} answers with {what}, not with the server of project "
        f"{project.name!r} (no credentials were sent): stop that program, or give this "
        "project another [server] port in pipl.toml"
    )


def connect(project: Project, identity: Identity = "user") -> IndexClient:
    """An ``IndexClient`` for ``project``'s server, logged in as ``identity``."""
    client = IndexClient(project.url)
    try:
        check_server(project, client)
        if identity == "anonymous":
            return client
        cache = user_token_cache()
        if identity == "user":
            token = _logged_in(project, cache)
            if token is not None:
                client.use_token(token)
                return client
        user = "root" if identity == "admin" else project.owner
        if _login_from_secrets(client, project, user):
            return client
        token = cache.get(_user_key(project), user)
        if token is None:
            raise AuthError(_needs(project, identity, user))
        client.use_token(token)
        return client
    except BaseException:
        client.close()
        raise


def _logged_in(project: Project, cache: TokenCache) -> Token | None:
    for user in cache.users(_user_key(project)):
        token = cache.get(_user_key(project), user)
        if token is not None:
            return token
    return None


def _login_from_secrets(client: IndexClient, project: Project, user: str) -> bool:
    """Log ``client`` in as ``user`` from the project's secrets; False if unreadable."""
    secrets = project.secrets
    token = secrets.tokens.get(project.url, user)
    if token is not None:
        client.use_token(token)
        return True
    password = secrets.password(user)
    if password is None:
        return False
    secrets.tokens.put(project.url, client.login(user, password))
    return True


def _needs(project: Project, identity: Identity, user: str) -> str:
    secrets = project.secrets.path
    owner = _os_owner(secrets)
    ask = f"ask {owner!r} (who owns {secrets})" if owner else f"ask the owner of {secrets}"
    if identity == "user":
        return (
            f"you are not logged in to project {project.name!r} and cannot read its secrets: "
            "log in with 'pipl proj login USER'"
        )
    role = "administrator" if identity == "admin" else "owner"
    return (
        f"this needs the project's {role} (devpi user {user!r}) and you cannot read "
        f"the project's secrets: {ask}, or log in as {user!r} with 'pipl proj login {user}'"
    )


def _os_owner(path: Path) -> str | None:
    import pwd

    try:
        return pwd.getpwuid(path.stat().st_uid).pw_name
    except (OSError, KeyError):
        return None


def login(project: Project, user: str, password: str) -> Token:
    """Check ``user``'s password against the project's server and remember the token for
    this machine (the server is checked to be the project's before the password is sent)."""
    with IndexClient(project.url) as client:
        check_server(project, client)
        token = client.login(user, password)
    cache = user_token_cache()
    private_dir(cache.path.parent)
    cache.replace(_user_key(project), token)
    return token


def logout(project: Project) -> None:
    user_token_cache().drop(_user_key(project))


def offline_user(project: Project) -> str | None:
    """Who this machine's user is while the project's server does not answer, from files
    alone: the user of 'pipl proj login', else the owner when the project's secrets are
    readable, else nobody. Acting as them then reaches only what the project's files
    allow this user anyway (its CI database, its logs); no token goes with the name, as
    no server was checked to be the project's."""
    token = _logged_in(project, user_token_cache())
    if token is not None:
        return token.user
    return project.owner if project.secrets.password(project.owner) is not None else None


def logged_in_user(project: Project) -> str | None:
    token = _logged_in(project, user_token_cache())
    return token.user if token is not None else None
