"""Users and indexes of a devpi-server: the administration half of ``IndexClient``.

``IndexClient`` inherits these methods; they send through its ``_json``. Names are checked
(``pipl.names``) before they reach a URL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipl import names
from pipl.errors import AuthError


class ServerAdmin:
    def _json(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        raise NotImplementedError  # IndexClient sends the request

    # -- users ----------------------------------------------------------------------------
    def users(self) -> dict[str, dict[str, Any]]:
        return dict(self._json("GET", "/", "list users"))

    def create_user(self, name: str, password: str, *, email: str | None = None) -> dict[str, Any]:
        names.check_user(name)
        if not password:
            raise AuthError(f"user {name!r} needs a non-empty password")
        body: dict[str, str] = {"password": password}
        if email:
            body["email"] = email
        return dict(self._json("PUT", f"/{name}", f"create user {name!r}", json=body))

    def modify_user(
        self, name: str, *, password: str | None = None, email: str | None = None
    ) -> None:
        names.check_user(name)
        body: dict[str, str] = {}
        if password is not None:
            if not password:
                raise AuthError(f"user {name!r} needs a non-empty password")
            body["password"] = password
        if email is not None:
            body["email"] = email
        if body:
            self._json("PATCH", f"/{name}", f"modify user {name!r}", json=body)

    def delete_user(self, name: str) -> None:
        names.check_user(name)
        self._json("DELETE", f"/{name}", f"remove user {name!r}")

    # -- indexes --------------------------------------------------------------------------
    def indexes(self) -> dict[str, dict[str, Any]]:
        """Every index on the server, as ``{"user/index": config}``."""
        result: dict[str, dict[str, Any]] = {}
        for user, config in sorted(self.users().items()):
            for index, ixconfig in sorted((config.get("indexes") or {}).items()):
                result[f"{user}/{index}"] = ixconfig
        return result

    def get_index(self, name: str, *, projects: bool = True) -> dict[str, Any]:
        """An index's config; with ``projects``, also the names of the projects on it
        (on devpi's PyPI mirror, that is PyPI's whole name list)."""
        names.check_index(name)
        params = {} if projects else {"no_projects": "1"}
        return dict(self._json("GET", f"/{name}", f"read index {name!r}", params=params))

    def create_index(
        self,
        name: str,
        *,
        bases: Iterable[str] = (),
        volatile: bool = True,
        acl_upload: Iterable[str] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        names.check_index(name)
        body: dict[str, Any] = {"type": "stage", "bases": list(bases), "volatile": volatile}
        if acl_upload is not None:
            body["acl_upload"] = list(acl_upload)
        body.update(options)
        return dict(self._json("PUT", f"/{name}", f"create index {name!r}", json=body))

    def modify_index(self, name: str, **changes: Any) -> dict[str, Any]:
        """Change some options of an index, keeping the others."""
        config = self.get_index(name, projects=False)
        config.update(changes)
        return dict(self._json("PATCH", f"/{name}", f"modify index {name!r}", json=config))

    def delete_index(self, name: str) -> None:
        names.check_index(name)
        self._json("DELETE", f"/{name}", f"remove index {name!r}")
