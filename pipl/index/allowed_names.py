"""Public names let into the project: the first stage's allowed names, and where a name
is public.

A release on the first stage whose name is on the base index or on PyPI (devpi's mirror,
``root/pypi``, when the project has one) and that was not first published in the project
stays there (``pipl.ci.gates``); the owner (or root) allows such a name through the server
(``pipl.devpi_names``), which keeps the list in the first stage's devpi config.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pipl import names
from pipl.errors import NotFound
from pipl.index.mirror import MIRROR_INDEX

if TYPE_CHECKING:
    from pipl.index.client import IndexClient
    from pipl.project.project import Project

ALLOWED_KEY = "pipl_allowed_names"  # the same as pipl.devpi_names.ALLOWED_KEY


@dataclass(frozen=True)
class AllowedNames:
    """The names allowed past the first stage ``index``."""

    index: str
    names: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _path(index: str) -> str:
    return f"/{names.check_index(index)}/+pipl/allowed-names"


def _of(result: Any) -> AllowedNames:
    result = dict(result or {})
    return AllowedNames(str(result.get("index", "")), [str(n) for n in result.get("names") or []])


def get_allowed(client: IndexClient, index: str) -> AllowedNames:
    """The names allowed past ``index`` (the first stage)."""
    return _of(client._json("GET", _path(index), f"read the allowed names of {index}"))


def change_allowed(client: IndexClient, index: str, name: str, *, allowed: bool) -> AllowedNames:
    """Allow (``allowed``) or disallow ``name`` past ``index``, as its owner or root."""
    key = names.normalize_dist(names.check_dist(name))
    what = f"{'allow' if allowed else 'disallow'} {key} on {index}"
    return _of(client._json("POST", _path(index), what, json={"name": key, "allowed": allowed}))


def allowed_in(config: dict[str, Any]) -> set[str]:
    """The allowed names recorded in a first stage's devpi config."""
    raw = config.get(ALLOWED_KEY)
    if not isinstance(raw, list):
        return set()
    return {names.normalize_dist(n) for n in raw if isinstance(n, str)}


def on_mirror(client: IndexClient, name: str) -> bool:
    """Whether PyPI (devpi's mirror) has ``name``: one request for that name alone (the
    mirror skips PyPI's list of names, ``pipl.index.mirror``)."""
    key = names.normalize_dist(names.check_dist(name))
    try:
        data = client._json("GET", f"/{MIRROR_INDEX}/{key}", f"ask PyPI for {key}")
    except NotFound:
        return False
    return bool(data)


def public_origin(project: Project, client: IndexClient, name: str) -> str | None:
    """Where ``name`` is public, if it is: ``PyPI`` or the base index's name; None when
    neither has it. The base index is asked first (no request leaves the server)."""
    key = names.normalize_dist(names.check_dist(name))
    if client.stage_versions(project.base_index, key):
        return project.base_index
    if project.config.pypi_mirror and on_mirror(client, key):
        return "PyPI"
    return None


def first_published_here(project: Project, client: IndexClient, name: str) -> bool:
    """Whether ``name`` was first published in the project: the owner allowed it, or a
    stage after the first holds releases of it already (it was let in before)."""
    key = names.normalize_dist(names.check_dist(name))
    first, *later = project.stage_indexes
    if key in allowed_in(client.get_index(first, projects=False)):
        return True
    return any(client.stage_versions(index, key) for index in later)


def unpublished_public_name(project: Project, client: IndexClient, name: str) -> str | None:
    """The one-line reason ``name`` stays on the first stage, None when it may go on."""
    key = names.normalize_dist(names.check_dist(name))
    if first_published_here(project, client, key):
        return None
    origin = public_origin(project, client, key)
    if origin is None:
        return None
    return (
        f"{key} exists on {origin} and was not first published here: the owner allows it "
        f"with 'pipl proj index names allow {key}'"
    )
