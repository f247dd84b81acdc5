"""pipl's release rules, checked inside devpi-server for every client.

The functions take devpi's stage objects and raise ``Refused`` with an HTTP status and a
one-line reason; ``pipl.devpi_guard`` calls them before devpi stores or removes anything.

- **A released file never changes**: a file whose name is already on the stage, or on a
  stage it inherits from (devpi ``bases``, recursively; mirrors are not looked at), with
  other content is refused. Same content is accepted. A maintainer may replace a file on a
  volatile stage itself (``X-Pipl-Replace: 1``, what ``pipl packl publish --replace``
  sends) as long as no stage it inherits from holds that name.
- **Projects have maintainers**: a project on a stage belongs to whoever first uploaded it
  there, plus the stage's owner and root (like PyPI's maintainers). The list lives in the
  stage's devpi config under ``pipl_maintainers`` (project -> users), so it survives
  restarts and reaches replicas. The project's CI user (``OWNER-ci``) acts for the owner.
  A project uploaded before the list existed belongs to the first uploader named in
  devpi's file logs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import IO, Any

MAINTAINERS_KEY = "pipl_maintainers"
CI_USER_SUFFIX = "-ci"  # the same as pipl.ci.config.CI_USER_SUFFIX, without importing it
ROOT = "root"
REPLACE_HEADER = "X-Pipl-Replace"
_FIRST_LOGS = ("upload", "push")


class Refused(Exception):
    """A request pipl's rules refuse: ``status`` for HTTP and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def acting_user(stage: Any, user: str) -> str:
    """The user ``user`` acts for on ``stage``: the owner's CI user acts for the owner."""
    return str(stage.username) if user == f"{stage.username}{CI_USER_SUFFIX}" else user


def implicit_maintainers(stage: Any) -> list[str]:
    """Who maintains every project of ``stage``: its owner and root."""
    return sorted({str(stage.username), ROOT})


def stored_maintainers(stage: Any) -> dict[str, list[str]]:
    """The stage's recorded maintainers (project -> users); malformed entries are skipped
    (the stage's owner may edit the config by hand)."""
    raw = stage.ixconfig.get(MAINTAINERS_KEY)
    if not isinstance(raw, dict):
        return {}
    return {
        str(project): sorted({str(u) for u in users if isinstance(u, str)})
        for project, users in raw.items()
        if isinstance(users, (list, tuple))
    }


def first_uploader(stage: Any, project: str) -> str | None:
    """The user who first uploaded (or pushed) a file of ``project`` to ``stage``, from
    devpi's file logs, as the user it acted for; None when the stage has no such file."""
    first: tuple[tuple[int, ...], str] | None = None
    for version in stage.list_versions_perstage(project):
        try:
            links = stage.get_linkstore_perstage(project, version).get_links()
        except stage.MissesRegistration:
            continue
        for link in links:
            for entry in link.get_logs():
                if entry.get("what") in _FIRST_LOGS and entry.get("who"):
                    when = tuple(entry.get("when") or ())
                    if first is None or when < first[0]:
                        first = (when, str(entry["who"]))
    return acting_user(stage, first[1]) if first else None


def maintainers(stage: Any, project: str) -> list[str] | None:
    """The recorded maintainers of ``project`` on ``stage`` (without the implicit ones),
    or None when nobody owns it yet (anyone allowed to upload may claim it)."""
    recorded = stored_maintainers(stage).get(project)
    if recorded is not None:
        return recorded
    first = first_uploader(stage, project)
    return [first] if first else None


def is_maintainer(stage: Any, project: str, user: str) -> bool:
    """Whether ``user`` may change ``project`` on ``stage`` (upload, delete, maintainers)."""
    user = acting_user(stage, user)
    if user in implicit_maintainers(stage):
        return True
    listed = maintainers(stage, project)
    return listed is None or user in listed


def check_maintainer(stage: Any, project: str, user: str, action: str) -> None:
    """Refuse (403) ``action`` on ``project`` unless ``user`` maintains it on ``stage``."""
    if is_maintainer(stage, project, user):
        return
    everyone = sorted(set(maintainers(stage, project) or []) | set(implicit_maintainers(stage)))
    raise Refused(
        403,
        f"{user} may not {action} {project} on {stage.name}: its maintainers are "
        f"{', '.join(everyone)}; one of them can add you with "
        f"'pipl proj index maintainers {project} --add {user}'",
    )


def sha256_of(fileobj: IO[bytes]) -> str:
    """The sha256 of a seekable file, read from its start; the position is reset."""
    digest = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(1 << 20), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


def link_sha256(link: Any) -> str | None:
    """A stored file's sha256 as devpi recorded it (the file's own entry when the link
    does not carry it)."""
    value = link.hashes.get("sha256")
    if not value:
        value = link.entry.hashes.get("sha256")
    return str(value) if value else None


def private_chain(stage: Any) -> list[Any]:
    """``stage`` and the non-mirror stages it inherits from, in devpi's lookup order."""
    return [s for s in stage.sro() if s.ixconfig.get("type") != "mirror"]


def check_file(stage: Any, project: str, filename: str, sha256: str, *, replace: bool) -> None:
    """Refuse (409) storing ``filename`` with content ``sha256`` on ``stage`` when a file
    of that name with other content is on ``stage`` or a stage it inherits from.
    ``replace`` allows replacing it on ``stage`` itself when ``stage`` is volatile."""
    bump = f"bump the version of {project} and upload again"
    for holder in private_chain(stage):
        for link in holder.get_releaselinks_perstage(project):
            if link.basename != filename or link_sha256(link) == sha256:
                continue
            if holder is stage and replace and stage.ixconfig.get("volatile"):
                continue
            raise Refused(
                409,
                f"{filename} is already on {holder.name} with other content, "
                f"and a released file never changes: {bump}",
            )


def _write(stage: Any, recorded: dict[str, list[str]]) -> None:
    """Store the maintainers in the stage's devpi config, in the current transaction.
    Written directly: devpi's ``modify`` would reset the other plugin options."""
    with stage.user.key.update() as userconfig:
        config = userconfig["indexes"][stage.index]
        config[MAINTAINERS_KEY] = recorded
        stage.ixconfig = config


def claim(stage: Any, project: str, users: Iterable[str]) -> None:
    """Record ``users`` as the maintainers of ``project`` on ``stage`` unless it has a
    record already (a project uploaded before keeps its first uploader)."""
    recorded = stored_maintainers(stage)
    if project in recorded:
        return
    recorded[project] = maintainers(stage, project) or sorted(
        {acting_user(stage, u) for u in users}
    )
    _write(stage, recorded)


def change(stage: Any, project: str, add: Iterable[str], remove: Iterable[str]) -> list[str]:
    """Add and remove maintainers of ``project`` on ``stage``; the new list. The implicit
    maintainers (owner, root) cannot be removed; removing everyone else leaves them."""
    add, remove = set(add), set(remove)
    kept = set(implicit_maintainers(stage)) & remove
    if kept:
        raise Refused(
            400,
            f"{', '.join(sorted(kept))} maintain every project of {stage.name} "
            "and cannot be removed",
        )
    both = add & remove
    if both:
        raise Refused(400, f"{', '.join(sorted(both))} both added and removed")
    recorded = stored_maintainers(stage)
    current = set(maintainers(stage, project) or [])
    recorded[project] = sorted((current | add) - remove)
    _write(stage, recorded)
    return recorded[project]
