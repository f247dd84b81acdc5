"""The CI runner's own devpi user logs in (``pipl.index.users.ensure_ci_user`` creates
it): it may upload only to the stages it pushes to."""

from __future__ import annotations

from pipl.ci.config import ci_user
from pipl.errors import AuthError
from pipl.index.client import IndexClient
from pipl.project.project import Project
from pipl.project.secrets import Token


def ci_login(project: Project, client: IndexClient) -> Token:
    """Log ``client`` in as the CI user (a cached token while it is fresh)."""
    name = ci_user(project)
    token = project.secrets.tokens.get(project.url, name)
    if token is not None:
        client.use_token(token)
        return token
    password = project.secrets.password(name)
    if password is None:
        raise AuthError(
            f"no password for the CI user {name!r} in the project's secrets: "
            "run 'pipl proj index create-default' as the project owner"
        )
    token = client.login(name, password)
    project.secrets.tokens.put(project.url, token)
    return token
