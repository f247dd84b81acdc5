"""Yanking a release on a stage (PEP 592), through the server.

The server keeps each stage's yanked releases and marks their files ``data-yanked`` on
the simple pages (``pipl.devpi_yank``): pip and uv skip them unless the version is pinned
with ``==``. Only the project's maintainers on the stage (its first uploader, the owner,
root) yank and restore.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pipl import names
from pipl.errors import UsageError
from pipl.index.client import IndexClient

MAX_REASON = 500  # the server's limit (pipl.devpi_yank.MAX_REASON)


@dataclass(frozen=True)
class YankState:
    """Whether a release is yanked on one index, and why."""

    index: str
    project: str
    version: str
    yanked: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _path(index: str, project: str) -> str:
    names.check_index(index)
    return f"/{index}/+pipl/yanked/{names.normalize_dist(names.check_dist(project))}"


def yanked_versions(client: IndexClient, index: str, project: str) -> dict[str, str]:
    """The yanked versions of ``project`` on ``index`` itself: version -> reason."""
    data = client._json("GET", _path(index, project), f"read the yanked releases of {project}")
    found = dict(data or {}).get("yanked") or {}
    return {str(v): str(r) for v, r in found.items()}


def yank_state(client: IndexClient, index: str, project: str, version: str) -> YankState:
    """Whether ``project`` ``version`` is yanked on ``index``."""
    found = yanked_versions(client, index, project)
    return YankState(
        index, names.normalize_dist(project), version, version in found, found.get(version, "")
    )


def set_yanked(
    client: IndexClient,
    index: str,
    project: str,
    version: str,
    *,
    yanked: bool = True,
    reason: str = "",
) -> YankState:
    """Yank ``project`` ``version`` on ``index`` (``yanked=False``: restore it), as one of
    the project's maintainers there; the new state."""
    if len(reason) > MAX_REASON or "\n" in reason:
        raise UsageError(f"the reason is one line of at most {MAX_REASON} characters")
    what = f"{'yank' if yanked else 'restore'} {project} {version} on {index}"
    body = {"version": version, "yanked": yanked, "reason": reason}
    data = client._json("POST", _path(index, project), what, json=body)
    found = dict(data or {}).get("yanked") or {}
    return YankState(
        index, names.normalize_dist(project), version, version in found, str(found.get(version, ""))
    )
