"""Garbage collection of the asset store: only objects no published product references.

A product is published when a wheel of it is on one of the project's indexes (stages,
base, and any other non-mirror index). Its manifest lists its objects; a tree object keeps
its files. Objects younger than a grace period are kept too, so that a product being built
and published right now does not lose its assets.
"""

from __future__ import annotations

import json
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipl_pipe.assets.objects import AssetStore
from pipl_pipe.products import FORMATS, MANIFEST

from pipl.index.client import IndexClient

PRODUCT_KEYWORD = "pipl-product"


@dataclass
class GcReport:
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


def manifest_from_wheel(path: Path) -> dict[str, Any] | None:
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.count("/") == 1 and name.endswith("/" + MANIFEST):
                data = json.loads(zf.read(name))
                return data if isinstance(data, dict) and data.get("format") in FORMATS else None
    return None


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
                    for link in client.links(index, project, version):
                        if link.rel != "releasefile" or not link.basename.endswith(".whl"):
                            continue
                        local = client.download(link.href, Path(tmp) / link.basename)
                        manifest = manifest_from_wheel(local)
                        if manifest is None:
                            continue
                        products.append(f"{index}: {project} {version}")
                        for asset in manifest.get("assets", []):
                            refs.add(asset["sha256"])
                            if asset.get("kind") == "tree" and store.has(asset["sha256"]):
                                refs.update(e["sha256"] for e in store.read_tree(asset["sha256"]))
    return refs, products


def collect(
    client: IndexClient, store: AssetStore, *, grace_seconds: float = 3600, dry_run: bool = False
) -> GcReport:
    report = GcReport()
    report.referenced, report.products = published_references(client, store)
    now = time.time()
    for sha, size in list(store.objects()):
        if sha in report.referenced:
            continue
        if now - store.mtime(sha) < grace_seconds:
            report.kept_recent.append(sha)
            continue
        if not dry_run:
            store.remove(sha)
        report.removed.append((sha, size))
    return report
