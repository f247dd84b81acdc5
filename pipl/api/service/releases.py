"""Operations on stages, releases, products and assets, and promotion.

Listings read the releases catalog (``pipl.ci.catalog``), which the runner keeps equal to
devpi; when no runner keeps it, the first request after a change brings it up to date.
One release's details are read from devpi itself (a few requests).
"""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Req
from pipl_pipe.products import ASSET_NAME, VERSION

from pipl import names
from pipl.api.releases import (
    MAX_UPLOAD,
    Asset,
    AssetCheck,
    Consumer,
    FileInfo,
    JobSummary,
    Moved,
    Packl,
    Product,
    Promotion,
    QaResult,
    Release,
    ReleaseList,
    ReleaseSummary,
    Requirement,
    Stage,
    Uploaded,
    Upstream,
)
from pipl.api.service import Context, operation
from pipl.ci import catalog
from pipl.errors import FrameworkError, NotFound, PiplError, PromotionRefused, UsageError

_SYNC = threading.Lock()  # one catalog refresh at a time in this process
MAX_PAGE = 500


# -- names from the web ------------------------------------------------------------------


def _stage(ctx: Context, stage: str) -> str:
    """The index of ``stage`` (a stage name or its full index name), readable by the
    caller."""
    project = ctx.project
    if stage in project.config.stages:
        index = project.stage_index(stage)
    elif stage in project.stage_indexes:
        index = stage
    else:
        raise NotFound(
            f"project {project.name} has no stage {stage!r} (its stages: "
            f"{', '.join(project.config.stages)})",
            status=404,
        )
    _config(ctx, index)
    return index


def _short(ctx: Context, index: str) -> str:
    stages = ctx.project.stage_indexes
    return ctx.project.config.stages[stages.index(index)] if index in stages else index


def _release_name(project: str, version: str) -> tuple[str, str]:
    names.check_dist(project)
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        raise UsageError(f"invalid version {version!r}: a PEP 440 version such as 1.2.0")
    return names.normalize_dist(project), version


def _config(ctx: Context, index: str) -> dict[str, Any]:
    """``index``'s configuration, read once per request; reading it proves the caller may
    read the index."""
    key = f"releases.config:{index}"
    if key not in ctx.memo:
        # devpi answers only a caller who may read it (else AuthError), as require_read
        ctx.memo[key] = ctx.index.get_index(index, projects=False)
        ctx._readable.add(index)
    return dict(ctx.memo[key])


# -- the catalog, fresh ------------------------------------------------------------------


def fresh_catalog(ctx: Context) -> tuple[int | None, bool]:
    """Devpi's serial and whether the catalog is true at it (asked once per request).
    With no runner to keep the catalog, it is brought up to date here."""
    if "releases.fresh" not in ctx.memo:
        ctx.memo["releases.fresh"] = _fresh(ctx)
    answer: tuple[int | None, bool] = ctx.memo["releases.fresh"]
    return answer


def _fresh(ctx: Context) -> tuple[int | None, bool]:
    from pipl.ci.service import runner_pid

    indexes = ctx.project.stage_indexes
    serial = int(ctx.index.status().get("serial", -1))
    have = catalog.synced_serial(ctx.ci, indexes)
    if have is not None and have >= serial:
        return serial, True
    if runner_pid(ctx.project) is not None:
        return have, False  # the runner's sweep is on its way
    with _SYNC:
        have = catalog.synced_serial(ctx.ci, indexes)
        if have is None or have < serial:
            for index in indexes:
                _config(ctx, index)
            serial = catalog.sync(ctx.ci, ctx.index, indexes)
    return serial, True


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
    return qa_state([(j.handler, j.state) for j in jobs]), jobs


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


@operation("releases.stages")
def stages(ctx: Context) -> list[Stage]:
    fresh_catalog(ctx)
    result = []
    for name, index in zip(ctx.project.config.stages, ctx.project.stage_indexes, strict=True):
        config = _config(ctx, index)
        result.append(
            Stage(
                name=name,
                index=index,
                bases=[str(b) for b in config.get("bases") or []],
                promote_to=_short(ctx, str(config.get("pipl_promote_to") or "")),
                handlers=[str(h) for h in config.get("pipl_handlers") or []],
                volatile=bool(config.get("volatile")),
                releases=catalog.count(ctx.ci, index),
            )
        )
    return result


@operation("releases.packls")
def packls(ctx: Context) -> list[Packl]:
    from packaging.version import InvalidVersion, Version

    fresh_catalog(ctx)
    indexes = ctx.project.stage_indexes
    for index in indexes:
        _config(ctx, index)
    marks = ",".join("?" * len(indexes))
    found: dict[str, dict[str, list[str]]] = {}
    product: dict[str, bool] = {}
    for ix, project, version, is_product in ctx.ci.execute(
        f"SELECT ix, project, version, product FROM releases WHERE ix IN ({marks})",  # noqa: S608 - placeholders only
        indexes,
    ):
        found.setdefault(project, {}).setdefault(_short(ctx, ix), []).append(version)
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


@operation("releases.list")
def list_releases(ctx: Context, stage: str, offset: int = 0, limit: int = 50) -> ReleaseList:
    index = _stage(ctx, stage)
    if offset < 0 or not 0 < limit <= MAX_PAGE:
        raise UsageError(f"offset must be >= 0 and limit from 1 to {MAX_PAGE}")
    serial, fresh = fresh_catalog(ctx)
    entries = catalog.newest(ctx.ci, index, offset=offset, limit=limit)
    releases = [
        ReleaseSummary(
            project=e.project,
            version=e.version,
            stage=_short(ctx, index),
            index=index,
            seen=e.seen,
            files=len(e.files),
            product=e.product,
            qa=_qa(ctx, e.project, e.version)[0],
        )
        for e in entries
    ]
    promote_to = str(_config(ctx, index).get("pipl_promote_to") or "")
    return ReleaseList(
        stage=_short(ctx, index),
        index=index,
        promote_to=_short(ctx, promote_to) if promote_to else "",
        releases=releases,
        total=catalog.count(ctx.ci, index),
        offset=offset,
        limit=limit,
        serial=serial,
        fresh=fresh,
    )


@operation("releases.get")
def get_release(ctx: Context, stage: str, project: str, version: str) -> Release:
    index = _stage(ctx, stage)
    key, version = _release_name(project, version)
    data = _own(ctx.index.version_data(index, key, version), index)
    files = catalog._files(data)
    if not files:
        raise NotFound(
            f"no release {key} {version} on stage {_short(ctx, index)}: see its releases "
            f"at /stages",
            status=404,
        )
    fresh_catalog(ctx)
    qa, jobs = _qa(ctx, key, version)
    config = _config(ctx, index)
    manifest = _product(ctx, key, version) if catalog.is_product(data) else None
    holders = [
        _short(ctx, i)
        for i in ctx.project.stage_indexes
        if i in catalog.where(ctx.ci, key, version)
    ]
    entry = catalog.get(ctx.ci, index, key, version)
    return Release(
        project=key,
        version=version,
        stage=_short(ctx, index),
        index=index,
        stages=holders,
        promote_to=_short(ctx, str(config.get("pipl_promote_to") or "")),
        seen=entry.seen if entry else 0.0,
        product=manifest is not None,
        qa=qa,
        files=[_file_info(ctx, f) for f in files],
        qa_results=_qa_results(ctx, data),
        jobs=jobs,
        requires=_requires(ctx, index, data),
        upstream=_upstream(ctx, manifest) if manifest else [],
        consumers=[
            Consumer(p, v, _short(ctx, ix)) for ix, p, v in catalog.consumers(ctx.ci, key, version)
        ],
        manifest=manifest,
    )


def _own(data: dict[str, Any], index: str) -> dict[str, Any]:
    """``data`` with only the links of files stored on ``index`` itself."""
    from pipl.index.links import Link

    def here(link: dict[str, Any]) -> bool:
        return Link("", str(link.get("href", "")), "", None).index == index

    return {**data, "+links": [lk for lk in data.get("+links") or [] if here(lk)]}


def _projects(ctx: Context, index: str) -> list[str]:
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
    from pipl.index.promote import best_version

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


def _upstream(ctx: Context, product: Product) -> list[Upstream]:
    doc = _manifest_doc(ctx, product.name, product.version) or {}
    pinned: dict[str, dict[str, str]] = doc.get("source_files") or {}
    result = []
    for pin in product.sources:
        try:
            req = Req(pin)
            [spec] = list(req.specifier)
        except (InvalidRequirement, ValueError):
            continue
        key = names.normalize_dist(req.name)
        holders = [
            i for i in ctx.project.stage_indexes if i in catalog.where(ctx.ci, key, spec.version)
        ]
        wanted = pinned.get(pin, {})
        matches = False
        if holders:
            entry = catalog.get(ctx.ci, holders[0], key, spec.version)
            served = {f["name"]: f["sha256"] for f in (entry.files if entry else [])}
            matches = bool(wanted) and all(served.get(n) == s for n, s in wanted.items())
        result.append(
            Upstream(
                key, spec.version, wanted, _short(ctx, holders[0]) if holders else None, matches
            )
        )
    return result


# -- products ----------------------------------------------------------------------------


def _manifest_doc(ctx: Context, product: str, version: str) -> dict[str, Any] | None:
    for index in ctx.project.stage_indexes:
        try:
            doc = catalog.manifest(ctx.ci, index, product, version)
        except ValueError as exc:
            raise FrameworkError(str(exc)) from None
        if doc is not None:
            return dict(doc)
    return None


def _product(ctx: Context, product: str, version: str) -> Product | None:
    holders = [i for i in ctx.project.stage_indexes if i in catalog.where(ctx.ci, product, version)]
    if not holders:
        return None
    for index in holders:
        _config(ctx, index)
    stages_ = [_short(ctx, i) for i in holders]
    if catalog.manifest_missing(ctx.ci, holders[0], product, version):
        catalog.fill_manifests(ctx.ci, ctx.index)
    try:
        doc = _manifest_doc(ctx, product, version)
    except FrameworkError as exc:
        return Product(product, version, stages_, "", "", [], [], error=str(exc))
    if doc is None:
        return Product(product, version, stages_, "", "", [], [], error="no manifest read yet")
    assets = [
        Asset(
            product=product,
            version=version,
            name=a["name"],
            type=a["type"],
            size=int(a["size"]),
            sha256=a["sha256"],
            kind=a.get("kind", "file"),
            suffix=a.get("suffix", ""),
            url=f"/products/{product}/{version}/assets/{a['name']}",
        )
        for a in doc.get("assets") or []
    ]
    return Product(
        product,
        version,
        stages_,
        str(doc.get("type", "")),
        str(doc.get("description", "")),
        list(doc.get("sources") or []),
        assets,
    )


@operation("products.list")
def list_products(ctx: Context, offset: int = 0, limit: int = 50) -> list[Product]:
    if offset < 0 or not 0 < limit <= MAX_PAGE:
        raise UsageError(f"offset must be >= 0 and limit from 1 to {MAX_PAGE}")
    fresh_catalog(ctx)
    indexes = ctx.project.stage_indexes
    for index in indexes:
        _config(ctx, index)
    seen: list[tuple[str, str]] = []
    for entry in catalog.products(ctx.ci, indexes, offset=0, limit=(offset + limit) * len(indexes)):
        if (entry.project, entry.version) not in seen:
            seen.append((entry.project, entry.version))
    result = []
    for project, version in seen[offset : offset + limit]:
        found = _product(ctx, project, version)
        if found is not None:
            result.append(found)
    return result


@operation("products.get")
def get_product(ctx: Context, product: str, version: str) -> Product:
    key, version = _release_name(product, version)
    fresh_catalog(ctx)
    found = _product(ctx, key, version)
    if found is None:
        raise NotFound(f"no product {key} {version} on the stages: see /products", status=404)
    return found


def _asset(ctx: Context, product: str, version: str, asset: str) -> Asset:
    if not isinstance(asset, str) or not ASSET_NAME.fullmatch(asset):
        raise UsageError(f"invalid asset name {asset!r}: lowercase letters, digits and '_'")
    found = get_product(ctx, product, version)
    if found.error:
        raise FrameworkError(f"product {found.name} {found.version}: {found.error}")
    match = next((a for a in found.assets if a.name == asset), None)
    if match is None:
        raise NotFound(
            f"product {found.name} {found.version} has no asset {asset!r} (it has: "
            f"{', '.join(a.name for a in found.assets) or 'none'})",
            status=404,
        )
    return match


@operation("products.verify")
def verify_asset(ctx: Context, product: str, version: str, asset: str) -> AssetCheck:
    from pipl_pipe.errors import AssetCorrupted, AssetMissing

    from pipl.assets.project_store import project_store

    found = _asset(ctx, product, version, asset)
    with project_store(ctx.project) as store:
        try:
            store.verify(found.sha256)
        except (AssetCorrupted, AssetMissing) as exc:
            return AssetCheck(found.sha256, False, str(exc))
    return AssetCheck(found.sha256, True, f"object {found.sha256} hashes to its name")


def open_asset(
    ctx: Context, product: str, version: str, asset: str
) -> tuple[Asset, Iterator[bytes]]:
    """An asset's bytes, copied out of the store and verified before the first byte
    goes out; only file assets (a folder is fetched with ``pipl asset get``)."""
    from pipl.assets.project_store import project_store

    found = _asset(ctx, product, version, asset)
    if found.kind != "file":
        raise UsageError(
            f"asset {found.name} of {found.product} {found.version} is a folder: fetch it "
            "in a workspace (its product's assets.fetch()) or with 'pipl asset get'"
        )
    tmp = tempfile.TemporaryDirectory(prefix="pipl-asset-")
    try:
        copy = Path(tmp.name) / "asset"
        with project_store(ctx.project) as store:
            try:
                store.fetch(found.sha256, copy, "file")
            except PiplError:
                raise
            except Exception as exc:  # pipl-pipe's AssetError family
                raise FrameworkError(str(exc)) from None
    except BaseException:
        tmp.cleanup()
        raise

    def chunks() -> Iterator[bytes]:
        try:
            with copy.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    yield chunk
        finally:
            tmp.cleanup()

    return found, chunks()


def download(ctx: Context, path: str) -> Iterator[bytes]:
    """The bytes at a download path of the dashboard (``Asset.url``), for a local client."""
    parts = path.strip("/").split("/")
    if len(parts) != 5 or parts[0] != "products" or parts[3] != "assets":
        raise NotFound(f"nothing to download at {path}", status=404)
    return open_asset(ctx, parts[1], parts[2], parts[4])[1]


# -- upload and promotion ----------------------------------------------------------------


@operation("releases.upload")
def upload(
    ctx: Context, files: list[Any], stage: str | None = None, replace: bool = False
) -> list[Uploaded]:
    from pipl.index.distfile import read_distfile
    from pipl.index.stages import check_replace_allowed

    index = _stage(ctx, stage) if stage else ctx.project.stage_index()
    if replace:
        check_replace_allowed(ctx.project, index)
    if not files:
        raise UsageError("no files to upload: give wheels or sdists")
    total = 0
    with tempfile.TemporaryDirectory(prefix="pipl-upload-") as tmp:
        dists = []
        for item in files:
            name = item.get("filename") if isinstance(item, dict) else None
            if not isinstance(name, str) or not catalog_filename(name):
                raise UsageError(f"invalid file name {name!r}: a wheel or sdist file name")
            try:
                content = base64.b64decode(str(item.get("content", "")), validate=True)
            except (binascii.Error, ValueError):
                raise UsageError(f"{name}: its content is not base64") from None
            total += len(content)
            if total > MAX_UPLOAD:
                raise UsageError(
                    f"{name}: more than {MAX_UPLOAD >> 20} MiB in one upload; "
                    "upload the files in smaller groups"
                )
            path = Path(tmp) / name
            path.write_bytes(content)
            dists.append(read_distfile(path))
        results = ctx.index.upload_checked(index, dists, replace=replace)
        serial = int(ctx.index.status().get("serial", -1))
        for dist in {(d.name, d.version) for d in dists}:
            _record(ctx, index, *dist, serial)
    return [Uploaded(r.filename, r.index, r.action) for r in results]


def catalog_filename(name: str) -> bool:
    from pipl.ci.intake import _FILENAME

    return bool(_FILENAME.match(name)) and ".." not in name and "/" not in name


def _record(ctx: Context, index: str, project: str, version: str, serial: int) -> None:
    """Note in the catalog what this request put on ``index`` (the sweep confirms it)."""
    key = names.normalize_dist(project)
    catalog.record(
        ctx.ci, index, key, version, ctx.index.stage_versions(index, key).get(version), serial
    )


def _endpoints(
    ctx: Context, project: str, version: str, to: str | None, source: str | None
) -> tuple[str, str]:
    stages_ = ctx.project.stage_indexes
    if to:
        target = _stage(ctx, to)
        if source:
            return _stage(ctx, source), target
        at = stages_.index(target)
        return stages_[at - 1] if at > 0 else stages_[0], target
    if source:
        src = _stage(ctx, source)
    else:
        holders = [
            i
            for i in stages_
            if project in _projects(ctx, i) and version in ctx.index.stage_versions(i, project)
        ]
        if not holders:
            raise NotFound(
                f"no release {project} {version} on the stages of {ctx.project.name}: "
                "publish it first",
                status=404,
            )
        src = holders[-1]
    target = str(_config(ctx, src).get("pipl_promote_to") or "")
    if not target:
        raise PromotionRefused(
            f"{project} {version} is on {src}, the last stage: there is no stage to promote it to"
        )
    return src, target


def _promotions(ctx: Context, asked: list[Any]) -> list[Any]:
    from pipl.index.promote import Promotion as Asked

    result = []
    for item in asked:
        if not isinstance(item, dict):
            raise UsageError("each release to promote is {project, version, to, source}")
        key, version = _release_name(str(item.get("project")), str(item.get("version")))
        source, target = _endpoints(ctx, key, version, item.get("to"), item.get("source"))
        result.append(Asked(key, version, source, target))
    return result


def _promote(ctx: Context, asked: list[Any], with_deps: bool, dry_run: bool) -> list[Promotion]:
    from pipl.index.promote import plan_promotion, promote_set

    if dry_run:
        plans = [
            plan_promotion(
                ctx.index, ctx.project.name, a.name, a.version, source=a.source, target=a.target
            )
            for a in asked
        ]
        pushed: list[list[Any]] = [[] for _ in plans]
    else:
        results = promote_set(ctx.index, ctx.project.name, asked, with_deps=with_deps)
        plans = [r.plan for r in results]
        pushed = [r.pushed for r in results]
        serial = int(ctx.index.status().get("serial", -1))
        for plan in plans:
            for move in plan.moves:
                _record(ctx, plan.target, move.project, move.version, serial)
    answers = []
    for plan, moved in zip(plans, pushed, strict=True):
        copied = {(p.project, p.version): p.copied for p in moved}
        moves = [
            Moved(
                m.project,
                m.version,
                m.holder,
                plan.target,
                sorted(m.files) if dry_run else copied.get((m.project, m.version), []),
                m.required_by or None,
            )
            for m in (plan.moves if with_deps else [plan.release])
        ]
        missing = [str(m) for m in plan.missing if not (with_deps and m.available)]
        answers.append(
            Promotion(plan.project, plan.version, plan.source, plan.target, dry_run, moves, missing)
        )
    return answers


@operation("releases.promote")
def promote(
    ctx: Context,
    project: str,
    version: str,
    to: str | None = None,
    source: str | None = None,
    with_deps: bool = False,
    dry_run: bool = False,
) -> Promotion:
    asked = _promotions(ctx, [{"project": project, "version": version, "to": to, "source": source}])
    return _promote(ctx, asked, with_deps, dry_run)[0]


@operation("releases.promote_set")
def promote_set(ctx: Context, releases: list[Any], with_deps: bool = False) -> list[Promotion]:
    if not isinstance(releases, list) or not releases:
        raise UsageError("give the releases to promote: a list of {project, version, to}")
    return _promote(ctx, _promotions(ctx, releases), with_deps, False)
