"""Operations on products and their assets: manifests, provenance, verification and
the verified download of an asset (copied out of the store, checked, then served)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Req
from pipl_pipe.products import ASSET_NAME

from pipl import names
from pipl.api.flow import Stale
from pipl.api.ops import operation
from pipl.api.releases import (
    Asset,
    AssetCheck,
    Product,
    Upstream,
)
from pipl.api.service import Context
from pipl.api.service.stages import (
    MAX_PAGE,
    caught_up,
    fresh_catalog,
    index_config,
    release_name,
    short_stage,
)
from pipl.ci import lineage
from pipl.errors import FrameworkError, NotFound, PiplError, UsageError
from pipl.index import catalog


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
                key,
                spec.version,
                wanted,
                short_stage(ctx, holders[0]) if holders else None,
                matches,
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
        index_config(ctx, index)
    stages_ = [short_stage(ctx, i) for i in holders]
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
    from pipl.api.service.lifecycle import from_yanked

    return Product(
        product,
        version,
        stages_,
        str(doc.get("type", "")),
        str(doc.get("description", "")),
        list(doc.get("sources") or []),
        assets,
        from_yanked=from_yanked(ctx, product, version),
        stale=_stale(ctx, product, version),
    )


def _stale(ctx: Context, product: str, version: str) -> list[Stale]:
    """Why the product is stale (``pipl.ci.lineage.stale``), with stage names."""
    found = lineage.stale(ctx.ci, ctx.project.stage_indexes, product, version)
    return [Stale(s.source, s.pinned, s.newer, short_stage(ctx, s.index)) for s in found]


@operation("products.list", "GET", "/products", summary="the products")
def list_products(ctx: Context, offset: int = 0, limit: int = 50) -> list[Product]:
    """Products (releases made by processing), newest first, one page of them."""
    if offset < 0 or not 0 < limit <= MAX_PAGE:
        raise UsageError(f"offset must be >= 0 and limit from 1 to {MAX_PAGE}")
    fresh_catalog(ctx)
    indexes = ctx.project.stage_indexes
    for index in indexes:
        index_config(ctx, index)
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


@operation("products.get", "GET", "/products/{product}/{version}", summary="a product")
def get_product(ctx: Context, product: str, version: str) -> Product:
    """A product with its provenance (the releases it was made from) and its assets."""
    key, version = release_name(product, version)
    fresh_catalog(ctx)
    found = _product(ctx, key, version)
    if found is None and caught_up(ctx):  # a product released a moment ago
        found = _product(ctx, key, version)
    if found is None:
        raise NotFound(f"no product {key} {version} on the stages: see /products")
    return found


def _asset(ctx: Context, product: str, version: str, asset: str) -> Asset:
    if not isinstance(asset, str) or not ASSET_NAME.fullmatch(asset):
        raise UsageError(f"invalid asset name {asset!r}: lowercase letters, digits and '_'")
    found = get_product(ctx, product, version)
    if found.error:
        raise FrameworkError(f"product {found.name} {found.version}: {found.error}")
    match: Asset | None = next((a for a in found.assets if a.name == asset), None)
    if match is None:
        raise NotFound(
            f"product {found.name} {found.version} has no asset {asset!r} (it has: "
            f"{', '.join(a.name for a in found.assets) or 'none'})",
        )
    return match


@operation(
    "products.verify",
    "GET",
    "/products/{product}/{version}/assets/{asset}/verify",
    summary="verify a stored asset",
)
def verify_asset(ctx: Context, product: str, version: str, asset: str) -> AssetCheck:
    """Re-hash the stored object of an asset on the project's side."""
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
        raise NotFound(f"nothing to download at {path}")
    return open_asset(ctx, parts[1], parts[2], parts[4])[1]
