"""A promotion a person asks for, carried out in one place: ``pipl proj index push`` and
the API's ``releases.promote`` and ``releases.promote_set`` all call ``promote``.

1. **Names checked**: the release (a distribution name, a PEP 440 version) and the
   stages, each a stage name of the project (``qa``) or a full index name (``bob/sandbox``);
   an unknown stage is refused with the project's stages listed.
2. **Source and target chosen**: with ``to``, the source is ``source`` or the stage just
   before ``to``; without it, the source is ``source`` or the furthest stage holding the
   release, and the target the stage that source promotes to.
3. **The rules**: the target's gate (``pipl.ci.gates``: QA, wheel, processing, approvals,
   public names), then the stage order (a release reaches a stage from the one just before
   it, unless ``skip_stage``) and the requirements on the target (``pipl.index.promote``),
   all or nothing for a set. devpi checks again who may push where.
4. **The catalog told**: the releases that moved are recorded in the release catalog
   (``pipl.index.catalog``) at once, so every listing shows them before the runner's next
   sweep.

The promote handler of CI asks the same gate and pushes through the same
``pipl.index.promote``; it chooses nothing (its release and target come from the upload).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pipl_pipe.products import VERSION

from pipl import names
from pipl.ci.gates import check_promotion
from pipl.errors import NotFound, ProjectError, PromotionRefused, UsageError
from pipl.index import catalog
from pipl.index.client import IndexClient
from pipl.index.promote import (
    PromoteResult,
    Promotion,
    PromotionPlan,
    plan_promotion,
    promote_set,
)
from pipl.project.project import Project


@dataclass(frozen=True)
class Asked:
    """One release a person asks to promote, as they named it: to ``to`` (None: the stage
    after the furthest one holding it), from ``source`` (None: chosen as ``endpoints``
    says). Stages are stage names or full index names."""

    name: str
    version: str
    to: str | None = None
    source: str | None = None


def check_release(name: str, version: str) -> tuple[str, str]:
    """The release's normalized name and its version, or ``UsageError`` naming the bad one
    (whatever their type: they may come from a JSON body)."""
    names.check_dist(name)
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        raise UsageError(f"invalid version {version!r}: a PEP 440 version such as 1.2.0")
    return names.normalize_dist(name), version


def index_of(project: Project, name: str) -> str:
    """The index ``name`` means: a stage of the project (``qa``, or its full name), or any
    index named in full (``bob/sandbox``)."""
    if not isinstance(name, str) or not name:
        raise UsageError(f"invalid stage {name!r}: a stage name (qa) or an index (USER/NAME)")
    if "/" in name:
        return names.check_index(name)
    stages = project.config.stages
    if name not in stages:
        raise ProjectError(
            f"unknown stage {name!r}: this project's stages are {', '.join(stages)} "
            "(another index is named in full, USER/NAME)"
        )
    return project.stage_index(name)


def endpoints(
    project: Project,
    client: IndexClient,
    name: str,
    version: str,
    to: str | None,
    source: str | None,
) -> tuple[str, str]:
    """The source and target indexes of one promotion (see the module's step 2)."""
    stages = project.stage_indexes
    if to:
        target = index_of(project, to)
        if source:
            return index_of(project, source), target
        at = stages.index(target) if target in stages else 0
        return stages[at - 1] if at > 0 else stages[0], target
    src = index_of(project, source) if source else _furthest_holder(project, client, name, version)
    following = str(client.get_index(src, projects=False).get("pipl_promote_to") or "")
    if not following:
        raise PromotionRefused(
            f"{name} {version} is on {src}, the last stage: there is no stage to promote it to"
        )
    return src, following


def _furthest_holder(project: Project, client: IndexClient, name: str, version: str) -> str:
    holders = [
        index
        for index in project.stage_indexes
        if name in {names.normalize_dist(p) for p in client.projects(index)}
        and version in client.stage_versions(index, name)
    ]
    if not holders:
        raise NotFound(
            f"no release {name} {version} on the stages of {project.name}: publish it first"
        )
    return holders[-1]


def resolve(project: Project, client: IndexClient, asked: list[Asked]) -> list[Promotion]:
    """Each asked release with its names checked and its source and target chosen."""
    if not asked:
        raise UsageError("give the releases to promote: a list of {project, version, to}")
    result = []
    for item in asked:
        key, version = check_release(item.name, item.version)
        source, target = endpoints(project, client, key, version, item.to, item.source)
        if item.to:  # else found on a stage already; before any gate is asked
            client.release_on(source, key, version)
        result.append(Promotion(key, version, source, target))
    return result


def promote(
    project: Project,
    client: IndexClient,
    asked: list[Asked],
    *,
    with_deps: bool = False,
    skip_stage: bool = False,
    dry_run: bool = False,
    conn: sqlite3.Connection | None = None,
) -> list[PromoteResult]:
    """Carry out the promotion of ``asked``, all or nothing, as ``client``'s user (see the
    module's steps); ``conn``: the CI database to record in (else it is opened here).

    With ``dry_run``, only the plans (nothing pushed, no gate asked, no refusal raised:
    ``plan.refusal`` says what a real one would refuse)."""
    moves = resolve(project, client, asked)
    if dry_run:
        return [PromoteResult(_plan(project, client, m, skip_stage), []) for m in moves]
    with _connection(project, conn) as ci_db:
        for m in moves:
            check_promotion(
                project, client, m.name, m.version, source=m.source, target=m.target, conn=ci_db
            )
        results = promote_set(
            client, project.name, moves, with_deps=with_deps, skip_stage=skip_stage
        )
        record(ci_db, client, results)
    return results


def _plan(
    project: Project, client: IndexClient, move: Promotion, skip_stage: bool
) -> PromotionPlan:
    return plan_promotion(
        client,
        project.name,
        move.name,
        move.version,
        source=move.source,
        target=move.target,
        skip_stage=skip_stage,
    )


def record(conn: sqlite3.Connection, client: IndexClient, results: list[PromoteResult]) -> None:
    """Note in the release catalog what the promotions put on their targets (the runner's
    sweep confirms it)."""
    serial = int(client.status().get("serial", -1))
    for result in results:
        target = result.plan.target
        for move in result.plan.moves:
            key = names.normalize_dist(move.project)
            data = client.stage_versions(target, key).get(move.version)
            catalog.record(conn, target, key, move.version, data, serial)


@contextmanager
def _connection(project: Project, conn: sqlite3.Connection | None) -> Iterator[sqlite3.Connection]:
    if conn is not None:
        yield conn
        return
    from pipl.ci import db

    with db.open_db(project.root) as opened:
        yield opened
