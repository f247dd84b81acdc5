"""Garbage collection of the asset store: only objects no published product references.

A product is published when a wheel (or sdist) of it is on one of the project's indexes
(stages, base, and any other non-mirror index). Its manifest lists its objects; a tree
object keeps its files. Objects younger than a grace period are kept too, so that a
product being built and published right now does not lose its assets (adding an object
again makes it young). Collection fails closed: a product whose manifest cannot be read,
or is of a format this pipl does not know, stops it before anything is removed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipl_pipe.assets.objects import AssetStore
from pipl_pipe.products import Product

from pipl.errors import FrameworkError
from pipl.errors import GcRefused as GcRefused  # importable from here too
from pipl.index.client import IndexClient
from pipl.index.manifest import is_product, read_manifest
from pipl.index.manifest import manifest_bytes as manifest_bytes  # importable from here too


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


def manifest_from_dist(path: Path, where: str) -> Product:
    """The product a wheel or sdist describes; ``GcRefused`` naming ``where`` if its
    manifest is missing, unreadable, or of a format this pipl does not know."""
    try:
        return read_manifest(path, where)
    except FrameworkError as exc:
        raise GcRefused(f"{exc}. Nothing was removed") from None


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
                    if not is_product(data):
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
