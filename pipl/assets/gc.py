"""Garbage collection of the asset store: only objects no published product references.

A product is published when a wheel (or sdist) of it is on one of the project's indexes
(stages, base, and any other non-mirror index). Its manifest lists its objects; a tree
object keeps its files. Objects younger than a grace period are kept too, so that a
product being built and published right now does not lose its assets (adding an object
again makes it young). Collection fails closed: a product whose manifest cannot be read,
or is of a format this pipl does not know, stops it before anything is removed.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipl_pipe.assets.objects import AssetStore
from pipl_pipe.errors import ManifestError
from pipl_pipe.products import FORMATS, MANIFEST, Product

from pipl.errors import GcRefused as GcRefused  # importable from here too
from pipl.index.client import IndexClient

PRODUCT_KEYWORD = "pipl-product"
MANIFEST_MAX = 16 << 20


@dataclass
class GcReport:
    store: str = ""
    referenced: set[str] = field(default_factory=set)
    products: list[str] = field(default_factory=list)
    removed: list[tuple[str, int]] = field(default_factory=list)
    kept_recent: list[str] = field(default_factory=list)

    @property
    def freed(self) -> int:
        return sum(size for _, size in self.removed)


def _is_product(versiondata: dict[str, object]) -> bool:
    keywords = versiondata.get("keywords") or ""
    if isinstance(keywords, list):
        keywords = " ".join(map(str, keywords))
    return PRODUCT_KEYWORD in str(keywords).replace(",", " ").split()


def manifest_bytes(path: Path) -> bytes | None:
    """The manifest shipped at package level in a wheel (``module/``) or an sdist
    (``name-version/module/`` or ``name-version/src/module/``)."""
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename.count("/") == 1 and info.filename.endswith("/" + MANIFEST):
                    return zf.read(info) if info.file_size <= MANIFEST_MAX else b""
        return None
    with tarfile.open(path) as tf:
        for member in tf.getmembers():
            parts = member.name.split("/")
            if parts[-1] == MANIFEST and member.isfile() and len(parts) in (3, 4):
                if len(parts) == 4 and parts[1] != "src":
                    continue
                handle = tf.extractfile(member)
                if handle is None or member.size > MANIFEST_MAX:
                    return b""
                return handle.read()
    return None


def manifest_from_dist(path: Path, where: str) -> Product:
    """The product a wheel or sdist describes; ``GcRefused`` naming ``where`` if its
    manifest is missing, unreadable, or of a format this pipl does not know."""
    try:
        raw = manifest_bytes(path)
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise GcRefused(
            f"{where}: {path.name} cannot be read ({exc}); nothing was removed"
        ) from None
    if raw is None:
        raise GcRefused(
            f"{where} is marked {PRODUCT_KEYWORD} but {path.name} has no {MANIFEST}: its "
            "assets are unknown, so nothing was removed"
        )
    try:
        data: Any = json.loads(raw)
    except ValueError:
        data = None
    fmt = data.get("format") if isinstance(data, dict) else None
    if isinstance(data, dict) and fmt not in FORMATS:
        raise GcRefused(
            f"{where} has a product manifest of format {fmt!r}, which this pipl does not "
            f"know (it reads {', '.join(FORMATS)}); upgrade pipl before collecting garbage. "
            "Nothing was removed"
        )
    try:
        return Product.from_manifest(data, where)
    except ManifestError as exc:
        raise GcRefused(f"{exc}; nothing was removed") from None


def _product_file(links: list[Any], where: str) -> Any | None:
    """The release file to read the manifest from: a wheel, else an sdist (None: the
    release has no files, so it references nothing)."""
    files = [link for link in links if link.rel == "releasefile"]
    wheels = [link for link in files if link.basename.endswith(".whl")]
    sdists = [link for link in files if link.basename.endswith((".tar.gz", ".tgz"))]
    if files and not wheels + sdists:
        raise GcRefused(
            f"{where} has neither a wheel nor an sdist ({files[0].basename}) to read its "
            "manifest from; nothing was removed"
        )
    return (wheels or sdists or [None])[0]


def published_references(client: IndexClient, store: AssetStore) -> tuple[set[str], list[str]]:
    """Objects referenced by products on every non-mirror index, and those products."""
    refs: set[str] = set()
    products: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pipl-gc-") as tmp:
        for index, config in client.indexes().items():
            if config.get("type") == "mirror":
                continue
            for project in client.projects(index):
                for version, data in client.versions(index, project, inherited=False).items():
                    if not _is_product(data):
                        continue
                    where = f"product {project} {version} on {index}"
                    link = _product_file(client.links(index, project, version), where)
                    if link is None:
                        continue
                    local = client.download(link.href, Path(tmp) / link.basename)
                    product = manifest_from_dist(local, where)
                    local.unlink()
                    products.append(f"{index}: {project} {version}")
                    for asset in product.assets:
                        refs.add(asset.sha256)
                        if asset.kind == "tree" and store.has(asset.sha256):
                            refs.update(e["sha256"] for e in store.read_tree(asset.sha256))
    return refs, products


def collect(
    client: IndexClient, store: AssetStore, *, grace_seconds: float = 3600, dry_run: bool = False
) -> GcReport:
    """Remove (or with ``dry_run`` only list) objects no published product references and
    that are older than ``grace_seconds``."""
    report = GcReport(store=store.url)
    report.referenced, report.products = published_references(client, store)
    for sha, size in list(store.objects()):
        if sha in report.referenced:
            continue
        if dry_run:
            removed = store.age(sha) >= grace_seconds  # on the store's clock
        else:
            # the store reads the age as it removes: an add at the same moment keeps it
            removed = store.remove(sha, older_than=grace_seconds)
        if removed:
            report.removed.append((sha, size))
        else:
            report.kept_recent.append(sha)
    return report
