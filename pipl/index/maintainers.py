"""Who maintains a project on an index: listed and changed through the server.

The server keeps the list and enforces it for every client (``pipl.devpi_rules``): a
project belongs to whoever first uploaded it to the index, plus the index's owner and root;
only they upload, push to it and delete its files, and only they change the list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from pipl import names
from pipl.errors import UsageError
from pipl.index.client import IndexClient


@dataclass(frozen=True)
class Maintainers:
    """A project's maintainers on one index: those listed, and the index's owner and root
    (``implicit``), who maintain every project of it."""

    index: str
    project: str
    maintainers: list[str]
    implicit: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _path(index: str, project: str) -> str:
    names.check_index(index)
    return f"/{index}/+pipl/maintainers/{names.normalize_dist(names.check_dist(project))}"


def _of(result: Any) -> Maintainers:
    """The server's answer (devpi's ``result``) as ``Maintainers``."""
    result = dict(result or {})
    return Maintainers(
        index=str(result.get("index", "")),
        project=str(result.get("project", "")),
        maintainers=[str(u) for u in result.get("maintainers") or []],
        implicit=[str(u) for u in result.get("implicit") or []],
    )


def get_maintainers(client: IndexClient, index: str, project: str) -> Maintainers:
    """The maintainers of ``project`` on ``index``."""
    return _of(client._json("GET", _path(index, project), f"read the maintainers of {project}"))


def change_maintainers(
    client: IndexClient,
    index: str,
    project: str,
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> Maintainers:
    """Add and remove maintainers of ``project`` on ``index`` (as one of its maintainers);
    the new list."""
    add = [names.check_user(u) for u in add]
    remove = [names.check_user(u) for u in remove]
    if not add and not remove:
        raise UsageError("nothing to change: name a user to add or remove")
    what = f"change the maintainers of {project} on {index}"
    data = client._json("PATCH", _path(index, project), what, json={"add": add, "remove": remove})
    return _of(data)
