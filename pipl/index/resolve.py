"""Reading a release's requirements and resolving them on an index's chain, for
checked promotion (``pipl.index.promote``) and what else asks "which version would an
install pick there?".

Requirements under an extra are left out unless the requirement that pulls a release
names that extra; environment markers (``sys_platform``...) are evaluated here. A
requirement the target's chain satisfies only through a mirror (PyPI), while a stage of
the source's chain the target does not inherit from holds the project's own releases of
that name, counts as missing (``confusion``): the target would install the public copy of
a name the project publishes itself until the project's own goes there first.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from pipl import names
from pipl.errors import PiplError, PromotionRefused
from pipl.index.client import IndexClient
from pipl.index.links import links_of


def requirements(
    client: IndexClient, index: str, name: str, version: str, extras: Iterable[str] = ()
) -> list[Requirement]:
    """The requirements of ``name==version`` as found on ``index``'s chain that an install
    (with ``extras``) pulls in."""
    data = client.versions(index, name).get(version) or {}
    raw = data.get("requires_dist")
    if raw is None:
        raw = _requires_from_wheel(client, index, name, version)
    wanted = sorted(extras) or [""]
    result = []
    for text in raw:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            raise PromotionRefused(
                f"{name} {version} on {index} has a requirement pipl cannot read: {text!r}"
            ) from None
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in wanted):
            continue
        result.append(req)
    return result


def best_version(client: IndexClient, index: str, name: str, specifier: SpecifierSet) -> str | None:
    """The highest version of ``name`` with files on ``index``'s chain that satisfies
    ``specifier`` (pre-releases only when nothing else does, as pip chooses)."""
    return _best(client.versions(index, name), specifier)


def _best(versions: dict[str, Any], specifier: SpecifierSet) -> str | None:
    available: dict[Version, str] = {}
    for text, data in versions.items():
        has_files = data.get("+links") or any(s.get("+links") for s in data.get("+shadowing", []))
        if not has_files or data.get("yanked"):
            continue
        try:
            available[Version(text)] = text
        except InvalidVersion:
            continue
    matching = list(specifier.filter(available))
    return available[max(matching)] if matching else None


def confusion(
    client: IndexClient,
    source: str,
    target: str,
    name: str,
    specifier: SpecifierSet,
    mirrors: dict[str, str],
) -> tuple[str, ...] | None:
    """Whether a requirement on ``name`` counts as missing on ``target``: None when the
    target's chain satisfies it with releases the project's indexes serve; ``()`` when
    nothing there satisfies it; ``(mirror, target, own)`` when only a mirror's releases
    do while ``own``, a stage of the source's chain the target does not inherit from,
    holds the project's own releases of ``name``."""
    versions = client.versions(target, name)
    found = _best(versions, specifier)
    if found is None:
        return ()
    data = versions[found]
    holders = {lk.index for lk in links_of(data) if lk.rel == "releasefile"}
    for shadowed in data.get("+shadowing") or []:
        holders |= {lk.index for lk in links_of(shadowed) if lk.rel == "releasefile"}
    served = [_mirror_name(client, h, mirrors) for h in sorted(holders)]
    if not served or not all(served):
        return None
    own = _own_holder(client, source, target, name)
    if own is None:
        return None
    return " and ".join(dict.fromkeys(served)), target, own


def _mirror_name(client: IndexClient, index: str, mirrors: dict[str, str]) -> str:
    """How a mirror index is named in messages (its title, "PyPI"), "" for other indexes
    (an index that cannot be read counts as the project's)."""
    if index not in mirrors:
        try:
            config = client.get_index(index) if index else {}
        except PiplError:
            config = {}
        mirror = config.get("type") == "mirror"
        mirrors[index] = str(config.get("title") or index) if mirror else ""
    return mirrors[index]


def _own_holder(client: IndexClient, source: str, target: str, name: str) -> str | None:
    """The first stage of ``source``'s chain, not of ``target``'s, with releases of
    ``name`` stored on it; None when there is none."""
    on_target = {index for index, _ in client.stage_chain(target)}
    key = names.normalize_dist(name)
    for index, config in client.stage_chain(source):
        if index in on_target or key not in (config.get("projects") or []):
            continue
        if any(links_of(data) for data in client.stage_versions(index, key).values()):
            return index
    return None


def _requires_from_wheel(client: IndexClient, index: str, name: str, version: str) -> list[str]:
    from pipl.index.distfile import read_distfile

    wheels = [
        lk for lk in client.release_files(index, name, version) if lk.basename.endswith(".whl")
    ]
    if not wheels:
        return []
    with tempfile.TemporaryDirectory(prefix="pipl-promote-") as tmp:
        local = client.download(wheels[0].href, Path(tmp) / wheels[0].basename)
        return read_distfile(local).metadata.get("Requires-Dist", [])
