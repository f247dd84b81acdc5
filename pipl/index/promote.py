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

Requirements are read and resolved by ``pipl.index.resolve``; one that the target's chain
satisfies only through a mirror while the project holds its own releases of the name
counts as missing (dependency confusion).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import Requirement

from pipl import names
from pipl.errors import IndexServerError, PiplError, PromotionRefused
from pipl.index.client import IndexClient, PushResult
from pipl.index.resolve import best_version, confusion, requirements


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
                confused = confusion(client, source, target, dep, req.specifier, mirrors)
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
        message = (
            f"promoting {current.project} {current.version} to {current.target} failed "
            f"while pushing {failed.project} {failed.version} ({exc}); {notes}"
        )
        if isinstance(exc, IndexServerError):  # the same kind: a refusal stays a refusal
            raise type(exc)(message, status=exc.status) from exc
        raise IndexServerError(message) from exc
    return results


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
