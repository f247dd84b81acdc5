"""Operations on stages and releases (products and promotion have modules of their own).

Listings read the releases catalog (``pipl.index.catalog``), made fresh for the request by
``pipl.api.service.stages``. One release's details are read from devpi itself (a few
requests).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Req

from pipl import names
from pipl.api.ops import operation
from pipl.api.releases import (
    Consumer,
    FileInfo,
    JobSummary,
    Maintainers,
    Packl,
    QaResult,
    Release,
    ReleaseList,
    ReleaseSummary,
    Requirement,
    Stage,
)
from pipl.api.service import Context
from pipl.api.service.stages import (
    MAX_PAGE,
    fresh_catalog,
    index_config,
    own_links,
    release_name,
    short_stage,
    stage_index,
)
from pipl.errors import NotFound, PiplError, UsageError
from pipl.index import catalog


def _qa(ctx: Context, project: str, version: str) -> tuple[str, list[JobSummary]]:
    """The release's QA state from its CI jobs on the stages, and those jobs."""
    indexes = ctx.project.stage_indexes
    marks = ",".join("?" * len(indexes))
    rows = ctx.ci.execute(
        "SELECT id, handler, state, ix, started, finished, message FROM jobs "  # noqa: S608 - placeholders only
        f"WHERE ix IN ({marks}) AND project = ? AND version = ? ORDER BY id",
        (*indexes, project, version),
    ).fetchall()
    jobs = [JobSummary(*row) for row in rows]
    state = qa_state([(j.handler, j.state) for j in jobs])
    passed = [j for j in jobs if j.handler == "qa" and j.state == "passed"]
    if state == "passed" and passed and all(_no_tests(j.message) for j in passed):
        state = "none"  # QA ran and found no tests: no gate that needs QA takes it
    return state, jobs


def _no_tests(message: str | None) -> bool:
    from pipl.ci.gates import QA_NONE

    return (message or "").startswith(QA_NONE)


def qa_state(jobs: list[tuple[str, str]]) -> str:
    """``passed``, ``failed``, ``pending`` or ``none``: the qa handler's jobs decide when
    there are any (one passed is enough), else all the release's jobs."""
    qa = {state for handler, state in jobs if handler == "qa"}
    if qa:
        if "passed" in qa:
            return "passed"
        return "pending" if qa & {"queued", "running"} else "failed"
    states = {state for _, state in jobs}
    if not states:
        return "none"
    if states & {"queued", "running"}:
        return "pending"
    return "failed" if "failed" in states else "passed"


# -- stages and releases -----------------------------------------------------------------


@operation("releases.stages", "GET", "/stages", summary="the project's stages")
def stages(ctx: Context) -> list[Stage]:
    """The project's stages in promotion order, with their indexes, bases, handlers and how
    many releases each holds."""
    fresh_catalog(ctx)
    result = []
    for name, index in zip(ctx.project.config.stages, ctx.project.stage_indexes, strict=True):
        config = index_config(ctx, index)
        result.append(
            Stage(
                name=name,
                index=index,
                bases=[str(b) for b in config.get("bases") or []],
                promote_to=short_stage(ctx, str(config.get("pipl_promote_to") or "")),
                handlers=[str(h) for h in config.get("pipl_handlers") or []],
                volatile=bool(config.get("volatile")),
                releases=catalog.count(ctx.ci, index),
            )
        )
    return result


@operation("releases.packls", "GET", "/packls", summary="the packls on the stages")
def packls(ctx: Context) -> list[Packl]:
    """Every packl on the stages, with its newest version on each stage that has it."""
    from packaging.version import InvalidVersion, Version

    fresh_catalog(ctx)
    indexes = ctx.project.stage_indexes
    for index in indexes:
        index_config(ctx, index)
    marks = ",".join("?" * len(indexes))
    found: dict[str, dict[str, list[str]]] = {}
    product: dict[str, bool] = {}
    for ix, project, version, is_product in ctx.ci.execute(
        f"SELECT ix, project, version, product FROM releases WHERE ix IN ({marks})",  # noqa: S608 - placeholders only
        indexes,
    ):
        found.setdefault(project, {}).setdefault(short_stage(ctx, ix), []).append(version)
        product[project] = product.get(project, False) or bool(is_product)

    def newest(versions: list[str]) -> str:
        try:
            return str(max(versions, key=Version))
        except InvalidVersion:
            return max(versions)

    return [
        Packl(name, product[name], {stage: newest(v) for stage, v in sorted(by_stage.items())})
        for name, by_stage in sorted(found.items())
    ]


def _on(ctx: Context, index: str, project: str, version: str) -> bool:
    """Whether the catalog has ``project version`` on ``index`` itself."""
    row = ctx.ci.execute(
        "SELECT 1 FROM releases WHERE ix = ? AND project = ? AND version = ?",
        (index, project, version),
    ).fetchone()
    return row is not None


@operation("releases.list", "GET", "/stages/{stage}/releases", summary="a stage's releases")
def list_releases(ctx: Context, stage: str, offset: int = 0, limit: int = 50) -> ReleaseList:
    """A stage's releases, newest first, ``limit`` from ``offset``."""
    index = stage_index(ctx, stage)
    if offset < 0 or not 0 < limit <= MAX_PAGE:
        raise UsageError(f"offset must be >= 0 and limit from 1 to {MAX_PAGE}")
    serial, fresh = fresh_catalog(ctx)
    entries = catalog.newest(ctx.ci, index, offset=offset, limit=limit)
    promote_to = str(index_config(ctx, index).get("pipl_promote_to") or "")
    releases = [
        ReleaseSummary(
            project=e.project,
            version=e.version,
            stage=short_stage(ctx, index),
            index=index,
            seen=e.seen,
            files=len(e.files),
            product=e.product,
            qa=_qa(ctx, e.project, e.version)[0],
            promoted=bool(promote_to) and _on(ctx, promote_to, e.project, e.version),
        )
        for e in entries
    ]
    return ReleaseList(
        stage=short_stage(ctx, index),
        index=index,
        promote_to=short_stage(ctx, promote_to) if promote_to else "",
        releases=releases,
        total=catalog.count(ctx.ci, index),
        offset=offset,
        limit=limit,
        serial=serial,
        fresh=fresh,
    )


@operation("releases.get", "GET", "/releases/{stage}/{project}/{version}", summary="a release")
def get_release(ctx: Context, stage: str, project: str, version: str) -> Release:
    """One release on ``stage``: files, QA results, CI jobs, requirements, provenance."""
    from pipl.api.service import lifecycle, products

    index = stage_index(ctx, stage)
    key, version = release_name(project, version)
    data = own_links(ctx.index.version_data(index, key, version), index)
    files = catalog._files(data)
    if not files:
        raise NotFound(
            f"no release {key} {version} on stage {short_stage(ctx, index)}: see its releases "
            f"at /stages",
        )
    fresh_catalog(ctx)
    qa, jobs = _qa(ctx, key, version)
    config = index_config(ctx, index)
    manifest = products._product(ctx, key, version) if catalog.is_product(data) else None
    holders = [
        short_stage(ctx, i)
        for i in ctx.project.stage_indexes
        if i in catalog.where(ctx.ci, key, version)
    ]
    entry = catalog.get(ctx.ci, index, key, version)
    return Release(
        project=key,
        version=version,
        stage=short_stage(ctx, index),
        index=index,
        stages=holders,
        promote_to=short_stage(ctx, str(config.get("pipl_promote_to") or "")),
        seen=entry.seen if entry else 0.0,
        product=manifest is not None,
        qa=qa,
        files=[_file_info(ctx, f) for f in files],
        qa_results=_qa_results(ctx, data),
        jobs=jobs,
        requires=_requires(ctx, index, data),
        upstream=products._upstream(ctx, manifest) if manifest else [],
        consumers=[
            Consumer(p, v, short_stage(ctx, ix))
            for ix, p, v in catalog.consumers(ctx.ci, key, version)
        ],
        manifest=manifest,
        yanked=lifecycle.yank_reason(ctx, index, key, version),
        from_yanked=lifecycle.from_yanked(ctx, key, version),
    )


def stage_projects(ctx: Context, index: str) -> list[str]:
    return [names.normalize_dist(p) for p in ctx.index.projects(index)]


def _file_info(ctx: Context, file: dict[str, str]) -> FileInfo:
    return FileInfo(file["name"], ctx.index.file_size(file["href"]), file["sha256"], file["href"])


def _qa_results(ctx: Context, data: dict[str, Any]) -> list[QaResult]:
    from pipl.index.links import links_of

    results = []
    for link in links_of(data):
        if link.rel != "toxresult" or not link.for_href:
            continue
        try:
            with tempfile.TemporaryDirectory(prefix="pipl-qa-") as tmp:
                path = ctx.index.download(link.href, Path(tmp) / "result.json")
                report = json.loads(path.read_text())
        except (PiplError, OSError, ValueError):
            continue
        target = link.for_href.split("#", 1)[0].rsplit("/", 1)[-1]
        for env, result in (report.get("testenvs") or {}).items():
            if str(env).startswith("."):  # tox's own packaging environments (.pkg...)
                continue
            steps = [s for s in (result or {}).get("test") or [] if isinstance(s, dict)]
            results.append(
                QaResult(
                    file=target,
                    env=str(env),
                    passed=all(str(s.get("retcode", "0")) == "0" for s in steps),
                    host=str(report.get("host", "")),
                    platform=str(report.get("platform", "")),
                    job=(report.get("pipl") or {}).get("job"),
                    commands=[" ".join(map(str, s.get("command") or [])) for s in steps],
                )
            )
    return results


def _requires(ctx: Context, index: str, data: dict[str, Any]) -> list[Requirement]:
    from pipl.index.resolve import best_version

    result = []
    for text in data.get("requires_dist") or []:
        try:
            req = Req(text)
        except InvalidRequirement:
            result.append(Requirement(text, text, None))
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        found = _best_catalogued(ctx, index, req)
        if found is None:
            try:  # not on the stages: the base index (pipl-pipe, build tools) or a mirror
                found = best_version(ctx.index, index, req.name, req.specifier)
            except PiplError:
                found = None
        result.append(Requirement(str(req), names.normalize_dist(req.name), found))
    return result


def _best_catalogued(ctx: Context, index: str, req: Req) -> str | None:
    """The highest version satisfying ``req`` on ``index`` and the stages after it, from
    the catalog (pre-releases only when nothing else does, as pip chooses)."""
    from packaging.version import InvalidVersion, Version

    stages_ = ctx.project.stage_indexes
    chain = stages_[stages_.index(index) :] if index in stages_ else [index]
    marks = ",".join("?" * len(chain))
    rows = ctx.ci.execute(
        f"SELECT DISTINCT version FROM releases WHERE project = ? AND ix IN ({marks})",  # noqa: S608 - placeholders only
        (names.normalize_dist(req.name), *chain),
    )
    available: dict[Version, str] = {}
    for (text,) in rows:
        try:
            available[Version(text)] = text
        except InvalidVersion:
            continue
    matching = list(req.specifier.filter(available))
    return available[max(matching)] if matching else None


@operation(
    "releases.maintainers",
    "GET",
    "/maintainers/{stage}/{project}",
    summary="a project's maintainers on a stage",
)
def maintainers(ctx: Context, stage: str, project: str) -> Maintainers:
    """Who maintains ``project`` on ``stage``."""
    from pipl.index.maintainers import get_maintainers

    index = stage_index(ctx, stage)
    return _maintainers(ctx, get_maintainers(ctx.index, index, project).to_dict())


@operation(
    "releases.maintainers_change",
    "POST",
    "/maintainers/{stage}/{project}",
    "user",
    "changing a project's maintainers",
)
def change_maintainers(
    ctx: Context,
    stage: str,
    project: str,
    add: list[str] | None = None,
    remove: list[str] | None = None,
) -> Maintainers:
    """Add and remove maintainers of ``project`` on ``stage``, as one of them: the
    caller's own devpi login changes the list, and the server allows maintainers only."""
    from pipl.index.maintainers import change_maintainers as change

    index = stage_index(ctx, stage)
    found = change(ctx.index, index, project, add=add or [], remove=remove or [])
    return _maintainers(ctx, found.to_dict())


def _maintainers(ctx: Context, found: dict[str, Any]) -> Maintainers:
    return Maintainers(stage=short_stage(ctx, found["index"]), **found)
