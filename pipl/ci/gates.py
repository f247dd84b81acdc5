"""Stage gates: what a release needs before it enters a stage.

Declared per stage in ``pipl.toml`` (the gate of a stage is checked when a release is
promoted *into* it), with defaults that make the stages mean something::

    [gates.qa]              # dev -> qa: automatic once QA and the wheel passed
    qa = true               # QA passed, with tests (a release with none has QA "none")
    wheel = true            # a wheel on the stage it comes from
    [gates.prod]            # qa -> prod: only with an approval
    qa = true
    processing = true       # its processing (where the stage runs any) passed
    approvals = 1           # valid approvals (``pipl proj index review approve``)
    reviewers = []          # who may give them; empty: anyone allowed to review

A stage named in no ``[gates.*]`` table and absent from the defaults lets anything in.
The promote handler, the manual promotion (CLI and API) and an approval all ask
``unmet`` the same question. A product CI made from a release needs no approval of its
own: the approvals of the releases it was made from count for it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from pipl import names
from pipl.project.config import Gate, PiplToml
from pipl.project.project import Project

QA_NONE = "QA none"  # how a qa job that found no tests begins its summary


def load_gates(project: Project) -> dict[str, Gate]:
    """The gates of the project's stages: the defaults, replaced stage by stage by the
    ``[gates.STAGE]`` tables of ``pipl.toml`` (read now)."""
    return PiplToml.of(project.root).gates(project.config.stages)


@dataclass(frozen=True)
class Unmet:
    """What a release still lacks to enter a stage; ``only_approvals``: it waits for a
    review, nothing else is wrong."""

    missing: list[str]
    only_approvals: bool

    def __bool__(self) -> bool:
        return bool(self.missing)

    def line(self) -> str:
        return "; ".join(self.missing)


def unmet(
    project: Project,
    conn: sqlite3.Connection,
    client: Any,
    name: str,
    version: str,
    *,
    source: str,
    target: str,
) -> Unmet:
    """What ``name version`` on ``source`` lacks to enter ``target`` (a stage index)."""
    from pipl.ci import db

    stage = target.rsplit("/", 1)[-1]
    shadowing = public_name_unmet(project, client, name, source=source, target=target)
    gate = load_gates(project).get(stage)
    if gate is None:
        return Unmet(shadowing, False)
    project_name = names.normalize_dist(name)
    missing: list[str] = list(shadowing)
    approvals_missing: list[str] = []
    links = [lk for lk in client.links(source, name, version) if lk.rel == "releasefile"]
    files = {lk.basename: lk.sha256 or "" for lk in links}
    made_from = _made_from(conn, source, project_name, version)
    if gate.qa and not made_from:
        state, earned = qa_state(conn, project_name, version)
        if state != db.PASSED:
            missing.append(f"QA {state or 'not run'} (the gate of {stage} needs QA passed)")
        elif not earned:
            missing.append(f"QA none: {name} {version} has no tests (the gate of {stage} needs QA)")
    if gate.wheel and not made_from and not any(f.endswith(".whl") for f in files):
        missing.append(f"no wheel on {source}")
    if gate.processing:
        for job in db.release_jobs(conn, source, project_name, version):
            if job.handler == "process" and job.state != db.PASSED:
                missing.append(f"processing on {source} {job.state} (job {job.id})")
                break
    if gate.approvals:
        from pipl.ci.reviews import approvals_for

        approved: set[str] = set()
        for src_name, src_version in made_from or [(name, version)]:
            src_links = client.links(source, src_name, src_version)
            src_files = {
                lk.basename: lk.sha256 or "" for lk in src_links if lk.rel == "releasefile"
            }
            users = set(approvals_for(project, source, src_name, src_version, src_files))
            if gate.reviewers:
                users &= set(gate.reviewers)
            approved = users if not approved else approved & users
            if len(users) < gate.approvals:
                approved = set()
                break
        if len(approved) < gate.approvals:
            who = f" from {', '.join(gate.reviewers)}" if gate.reviewers else ""
            approvals_missing.append(
                f"{gate.approvals - len(approved)} more approval(s){who} on {source} "
                f"(pipl proj index review approve {name} {version} --stage "
                f"{source.rsplit('/', 1)[-1]})"
            )
    return Unmet(missing + approvals_missing, bool(approvals_missing) and not missing)


def public_name_unmet(
    project: Project, client: Any, name: str, *, source: str, target: str
) -> list[str]:
    """Whatever a stage's gate says, a release leaves the first stage only under a name
    that is not public (on the base index or PyPI) or was first published here (a later
    stage holds it, or the owner allowed it): else any first-stage user could shadow a
    public package inside the project."""
    from pipl.index.allowed_names import unpublished_public_name

    if source != project.stage_index() or target == source:
        return []
    reason = unpublished_public_name(project, client, name)
    return [reason] if reason else []


def qa_state(conn: sqlite3.Connection, project: str, version: str) -> tuple[str, bool]:
    """How QA went for a release on any stage, and whether it ran tests (``earned``)."""
    from pipl.ci import db

    rows = conn.execute(
        "SELECT state, message FROM jobs WHERE handler = 'qa' AND project = ? AND version = ?",
        (project, version),
    ).fetchall()
    passed = [m for s, m in rows if s == db.PASSED]
    if passed:
        return db.PASSED, any(not (m or "").startswith(QA_NONE) for m in passed)
    return db.handler_state(conn, "qa", project, version), False


def _made_from(
    conn: sqlite3.Connection, index: str, project: str, version: str
) -> list[tuple[str, str]]:
    """The releases whose ``process`` job made ``project version`` (a product), else []."""
    rows = conn.execute(
        "SELECT j.project, j.version FROM made m JOIN jobs j ON j.id = m.job_id "
        "WHERE m.project = ? AND m.version = ? AND j.handler = 'process'",
        (project, version),
    ).fetchall()
    return sorted({(str(p), str(v)) for p, v in rows})


HELD = "held on "  # how a promote job that waits for approvals begins its summary


def wake_held(conn: sqlite3.Connection, index: str, name: str, version: str) -> list[int]:
    """Queue again the held promote jobs of ``name version`` on ``index`` and of the
    products CI made from it there: called once a review approved it, so the promote
    handler asks the gate again (and promotes what now passes). Returns their ids."""
    project = names.normalize_dist(name)
    products = conn.execute(
        "SELECT m.project, m.version FROM made m JOIN jobs j ON j.id = m.job_id "
        "WHERE j.handler = 'process' AND j.project = ? AND j.version = ? AND m.ix = ?",
        (project, version, index),
    ).fetchall()
    woken = []
    for rel_project, rel_version in [(project, version), *products]:
        for (job_id,) in conn.execute(
            "SELECT id FROM jobs WHERE handler = 'promote' AND ix = ? AND project = ? "
            "AND version = ? AND state = 'passed' AND message LIKE ?",
            (index, rel_project, rel_version, HELD + "%"),
        ).fetchall():
            conn.execute(
                "UPDATE jobs SET state = 'queued', not_before = 0, attempts = 0, "
                "started = NULL, finished = NULL, message = 'approved: asks the gate again' "
                "WHERE id = ? AND state = 'passed'",
                (job_id,),
            )
            woken.append(int(job_id))
    return woken


def check_promotion(
    project: Project,
    client: Any,
    name: str,
    version: str,
    *,
    source: str,
    target: str,
    conn: sqlite3.Connection | None = None,
) -> None:
    """The manual promotion's gate (``pipl.ci.promotion``): ``PromotionRefused`` naming
    what is missing, before anything moves. ``conn``: the CI database the caller has open
    (else it is opened here)."""
    from pipl.ci import db
    from pipl.errors import PromotionRefused

    if conn is None:
        with db.open_db(project.root) as opened:
            verdict = unmet(project, opened, client, name, version, source=source, target=target)
    else:
        verdict = unmet(project, conn, client, name, version, source=source, target=target)
    if verdict:
        raise PromotionRefused(f"{name} {version} cannot enter {target} yet: {verdict.line()}")
