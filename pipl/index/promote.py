"""Checked promotion: a release moves to a later index only with what it needs.

``plan_promotion`` reads the release's requirements (its ``Requires-Dist``, as devpi keeps
them in the release's metadata, else from its wheel) and resolves each one against the
target index and every index it inherits from, before anything moves. ``promote`` then
pushes the release when nothing is missing; with ``with_deps`` it pushes the missing
closure too (for each missing requirement, the highest version the source's chain holds
that satisfies it, and recursively what that one needs), dependencies first, all or
nothing: when a push fails, what this promotion pushed is removed from the target again
(devpi lets a target's uploaders remove releases even from a non-volatile index with its
``force`` flag), and only what this promotion pushed (same file name and sha256).

By default a release reaches an index only from the index whose ``pipl_promote_to``
names it (the stage just before it); ``skip_stage`` allows jumping.

Requirements under an extra are left out unless the requirement that pulls a release
names that extra; environment markers (``sys_platform``...) are evaluated here.

A requirement the target's chain satisfies only through a mirror (PyPI), while a stage of
the source's chain the target does not inherit from holds the project's own releases of
that name, counts as missing: the target would install the public copy of a name the
project publishes itself (dependency confusion) until the project's own goes there first.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from pipl import names
from pipl.errors import IndexServerError, PiplError, PromotionRefused
from pipl.index.client import IndexClient, PushResult
from pipl.index.links import links_of


@dataclass(frozen=True)
class Move:
    """A release that travels to the target: its files that are not there yet (name ->
    sha256; empty when the target holds them all), and why it travels."""

    project: str
    version: str
    holder: str  # the index of the source's chain its files come from
    files: dict[str, str]
    new: bool  # the target holds no file of this release yet
    required_by: str = ""  # "" for the release asked for, else "shot-010 0.2.0"
    requirement: str = ""  # the requirement it satisfies ("shotlib>=0.1")

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "version": self.version,
            "from": self.holder,
            "files": sorted(self.files),
            "required_by": self.required_by or None,
            "requirement": self.requirement or None,
        }


@dataclass(frozen=True)
class Missing:
    """A requirement the target's chain does not satisfy."""

    requirement: str
    required_by: str
    available: str | None  # the version the source's chain would give; None: none
    # set when only a mirror satisfies it on the target's chain while the project has its
    # own releases of the name: the mirror ("PyPI"), the target, the stage holding them
    mirror: str = ""
    target: str = ""
    own: str = ""

    def __str__(self) -> str:
        return f"{self.requirement} (for {self.required_by})"

    @property
    def confusion(self) -> str:
        """Why a requirement the target's chain satisfies counts as missing; "" if not."""
        if not self.mirror:
            return ""
        name = Requirement(self.requirement).name
        return (
            f"{name} would come from {self.mirror} on {self.target}, while the project "
            f"has its own on {self.own}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "requirement": self.requirement,
            "required_by": self.required_by,
            "available": self.available,
            "mirror": self.mirror or None,
            "own": self.own or None,
        }


@dataclass(frozen=True)
class PromotionPlan:
    """What promoting one release would move, and what the target misses."""

    project: str
    version: str
    source: str
    target: str
    moves: list[Move]  # dependencies first, the release asked for last
    missing: list[Missing] = field(default_factory=list)

    @property
    def release(self) -> Move:
        return self.moves[-1]

    @property
    def deps(self) -> list[Move]:
        return self.moves[:-1]

    @property
    def unavailable(self) -> list[Missing]:
        return [m for m in self.missing if m.available is None]

    def refusal(self, *, with_deps: bool) -> PromotionRefused | None:
        """The error ``promote`` raises for this plan, or None when it may go ahead."""
        what = f"{self.project} {self.version} cannot go to {self.target}"
        confused = [m for m in self.missing if m.confusion]
        if confused and (not with_deps or any(m.available is None for m in confused)):
            listed = "; ".join(f"it needs {m}: {m.confusion}" for m in confused)
            if any(m.available is None for m in confused):
                return PromotionRefused(
                    f"{what}: {listed}, and none of the project's own satisfies "
                    f"{', '.join(m.requirement for m in confused)}: publish one first"
                )
            return PromotionRefused(f"{what}: {listed}: promote it first (--with-deps)")
        if self.unavailable:
            listed = "; ".join(map(str, self.unavailable))
            return PromotionRefused(
                f"{what}: it needs {listed}, found neither on {self.target} nor on "
                f"{self.source} (nor the indexes they inherit from): publish it first"
            )
        if self.missing and not with_deps:
            listed = "; ".join(map(str, self.missing))
            return PromotionRefused(
                f"{what}: it needs {listed}, missing on {self.target} and the indexes it "
                "inherits from; push them first, or with it (--with-deps)"
            )
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "version": self.version,
            "source": self.source,
            "target": self.target,
            "moves": [m.to_dict() for m in self.moves],
            "missing": [m.to_dict() for m in self.missing],
        }


@dataclass(frozen=True)
class PromoteResult:
    plan: PromotionPlan
    pushed: list[PushResult]  # one per release that had files to move, in push order


def plan_promotion(
    client: IndexClient,
    project: str,
    name: str,
    version: str,
    *,
    source: str,
    target: str,
    skip_stage: bool = False,
) -> PromotionPlan:
    """Resolve ``name==version``'s requirements against ``target``'s whole chain; plan the
    release's move and the moves of the missing closure (taken from ``source``'s chain).

    ``project`` is the project name (the owner of the indexes), for messages. Refuses a
    jump past a stage (unless ``skip_stage``), a release missing from the source's chain
    and a file that exists with other content on the target's chain.
    """
    names.check_index(source)
    names.check_index(target)
    names.check_dist(name)
    if source == target:
        raise PromotionRefused(f"{name} {version}: the source and the target are both {target}")
    if not skip_stage:
        _check_order(client, project, source, target)
    root = _move(client, source, target, name, version)
    key = names.normalize_dist(name)
    planned: dict[str, Move] = {key: root}
    edges: dict[str, list[str]] = {key: []}
    missing: list[Missing] = []
    queue: list[tuple[str, frozenset[str]]] = [(key, frozenset())]
    done: set[tuple[str, frozenset[str]]] = set()
    mirrors: dict[str, str] = {}  # index -> how a mirror is named in messages; "" not one
    while queue:
        current, extras = queue.pop(0)
        if (current, extras) in done:
            continue
        done.add((current, extras))
        move = planned[current]
        who = f"{move.project} {move.version}"
        for req in requirements(client, move.holder, move.project, move.version, extras):
            dep = names.normalize_dist(req.name)
            if dep in planned:
                if not req.specifier.contains(planned[dep].version, prereleases=True):
                    missing.append(Missing(str(req), who, None))
                    continue
                edges[current].append(dep)
            else:
                confused = _confusion(client, source, target, dep, req.specifier, mirrors)
                if confused is None:
                    continue
                found = best_version(client, source, dep, req.specifier)
                missing.append(Missing(str(req), who, found, *confused))
                if found is None:
                    continue
                planned[dep] = _move(client, source, target, req.name, found, who, str(req))
                edges[current].append(dep)
                edges[dep] = []
            queue.append((dep, frozenset(req.extras)))
    order = _dependencies_first(key, edges)
    return PromotionPlan(
        name, version, source, target, [planned[k] for k in order], _unique(missing)
    )


def promote(
    client: IndexClient,
    project: str,
    name: str,
    version: str,
    *,
    source: str,
    target: str,
    with_deps: bool = False,
    skip_stage: bool = False,
) -> PromoteResult:
    """Push ``name==version`` from ``source`` to ``target`` once its requirements are
    there; ``with_deps`` pushes the missing closure with it, all or nothing."""
    asked = Promotion(name, version, source, target)
    return promote_set(client, project, [asked], with_deps=with_deps, skip_stage=skip_stage)[0]


@dataclass(frozen=True)
class Promotion:
    """One release asked to move: ``name==version`` from ``source`` to ``target``."""

    name: str
    version: str
    source: str
    target: str


def plan_set(
    client: IndexClient,
    project: str,
    asked: list[Promotion],
    *,
    with_deps: bool = False,
    skip_stage: bool = False,
) -> list[PromotionPlan]:
    """The plans of a set of promotions; the first refusal among them is raised, so a set
    moves only when every one of its releases may."""
    plans = [
        plan_promotion(
            client,
            project,
            a.name,
            a.version,
            source=a.source,
            target=a.target,
            skip_stage=skip_stage,
        )
        for a in asked
    ]
    for plan in plans:
        refused = plan.refusal(with_deps=with_deps)
        if refused is not None:
            if len(plans) > 1:
                raise PromotionRefused(f"{refused}; nothing of the {len(plans)} releases moved")
            raise refused
    return plans


def promote_set(
    client: IndexClient,
    project: str,
    asked: list[Promotion],
    *,
    with_deps: bool = False,
    skip_stage: bool = False,
) -> list[PromoteResult]:
    """Promote every release of ``asked``, all or nothing: each is planned (and checked)
    before anything moves, and when a push fails, what this set pushed is removed again
    from its targets."""
    plans = plan_set(client, project, asked, with_deps=with_deps, skip_stage=skip_stage)
    attempted: list[tuple[str, Move]] = []
    results: list[PromoteResult] = []
    current = plans[0] if plans else None
    try:
        for plan in plans:
            current = plan
            pushed: list[PushResult] = []
            for move in [m for m in plan.moves if m.files]:
                attempted.append((plan.target, move))
                pushed.append(client.push(move.holder, move.project, move.version, plan.target))
            results.append(PromoteResult(plan, pushed))
    except Exception as exc:
        targets = list(dict.fromkeys(t for t, _ in attempted))
        notes = "; ".join(_undo(client, t, [m for tt, m in attempted if tt == t]) for t in targets)
        if not isinstance(exc, PiplError) or current is None:
            raise
        failed = attempted[-1][1]
        status = exc.status if isinstance(exc, IndexServerError) else None
        raise IndexServerError(
            f"promoting {current.project} {current.version} to {current.target} failed "
            f"while pushing {failed.project} {failed.version} ({exc}); {notes}",
            status=status,
        ) from exc
    return results


# -- resolution ---------------------------------------------------------------------------


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


def _confusion(
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


def _check_order(client: IndexClient, project: str, source: str, target: str) -> None:
    following = client.get_index(source).get("pipl_promote_to") or ""
    if following == target:
        return
    if following:
        raise PromotionRefused(
            f"{source} promotes to {following}, not {target}: a release reaches {target} "
            f"from the stage just before it; push it to {following} first, "
            "or skip the stage explicitly (--skip-stage)"
        )
    raise PromotionRefused(
        f"{source} promotes to no index ({project}'s last stage or an index without "
        f"pipl_promote_to): skip the stage explicitly to push it to {target} (--skip-stage)"
    )


def _move(
    client: IndexClient,
    source: str,
    target: str,
    name: str,
    version: str,
    required_by: str = "",
    requirement: str = "",
) -> Move:
    holder, files, there = client.compare_release(source, target, name, version)
    travel = {lk.basename: lk.sha256 or "" for lk in files if lk.basename not in there}
    return Move(name, version, holder, travel, not there, required_by, requirement)


def _dependencies_first(root: str, edges: dict[str, list[str]]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> None:
        if node in seen:
            return
        seen.add(node)
        for dep in edges.get(node, []):
            visit(dep)
        order.append(node)

    visit(root)
    return order


def _unique(missing: list[Missing]) -> list[Missing]:
    seen: set[tuple[str, str]] = set()
    result = []
    for m in missing:
        if (m.requirement, m.required_by) not in seen:
            seen.add((m.requirement, m.required_by))
            result.append(m)
    return result


def _undo(client: IndexClient, target: str, attempted: list[Move]) -> str:
    """Remove from ``target`` the files these moves put there (same name and sha256);
    say what was undone and what could not be."""
    undone, stuck = [], []
    for move in reversed(attempted):
        label = f"{move.project} {move.version}"
        try:
            current = [
                lk
                for lk in client.release_files(target, move.project, move.version)
                if lk.index == target
            ]
            ours = [lk for lk in current if move.files.get(lk.basename) == lk.sha256]
            if not ours:
                continue
            if move.new and len(ours) == len(current):
                client.delete_version(target, move.project, move.version, force=True)
            else:
                for lk in ours:
                    client.delete_file(lk, force=True)
            undone.append(label)
        except PiplError as exc:
            stuck.append(f"{label} ({exc})")
    text = f"removed again from {target}: {', '.join(undone) or 'nothing was pushed'}"
    if stuck:
        text += f"; could not remove {', '.join(stuck)}: remove them by hand"
    return text
