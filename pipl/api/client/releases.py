"""``client.releases``: stages, packls, releases with their files and QA results,
products and their assets, reviews, yanks, and promotion as one (``Transaction``)."""

from __future__ import annotations

import base64
import builtins
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipl.api.client.remote import Caller, Domain, remote
from pipl.api.releases import MAX_UPLOAD, AllowedNames, Maintainers, Promotion, Uploaded
from pipl.api.service import lifecycle, promotion, releases
from pipl.api.service import names as name_ops
from pipl.api.service import products as product_ops
from pipl.api.service import reviews as review_ops
from pipl.errors import FrameworkError, UsageError


class ReleasesApi(Domain):
    """``client.releases``: what the project's stages hold, and changing it."""

    stages = remote(releases.stages)
    packls = remote(releases.packls)
    list = remote(releases.list_releases)
    get = remote(releases.get_release)
    maintainers = remote(releases.maintainers)
    review = remote(review_ops.review)
    reviews = remote(review_ops.list_reviews)
    yank = remote(lifecycle.yank)
    names = remote(name_ops.list_names)
    derived = remote(lifecycle.derived)
    products = remote(product_ops.list_products)
    product = remote(product_ops.get_product)
    verify_asset = remote(product_ops.verify_asset)

    def upload(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        stage: str | None = None,
        replace: bool = False,
    ) -> builtins.list[Uploaded]:
        """Upload wheels and sdists to ``stage`` (default: the first), checked as
        ``pipl proj index upload`` checks them: all files before any is sent."""
        files = []
        total = 0
        for path in map(Path, paths):
            data = path.read_bytes()
            total += len(data)
            if total > MAX_UPLOAD:
                raise UsageError(
                    f"{path.name}: more than {MAX_UPLOAD >> 20} MiB in one upload; "
                    "upload the files in smaller groups"
                )
            files.append({"filename": path.name, "content": base64.b64encode(data).decode()})
        return self._client.call(promotion.upload, files=files, stage=stage, replace=replace)

    def change_maintainers(
        self,
        stage: str,
        project: str,
        *,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
    ) -> Maintainers:
        """Add and remove maintainers of ``project`` on ``stage`` (as one of them)."""
        return self._client.call(
            releases.change_maintainers,
            stage=stage,
            project=project,
            add=builtins.list(add),
            remove=builtins.list(remove),
        )

    def change_names(self, name: str, *, allowed: bool = True) -> AllowedNames:
        """Allow ``name`` past the first stage (``allowed=False``: disallow it), as the owner
        or root; allowing queues again the promote jobs the name held."""
        return self._client.call(name_ops.change_names, project=name, allowed=allowed)

    def fetch_asset(
        self, product: str, version: str, asset: str, dest: str | os.PathLike[str]
    ) -> Path:
        """Download a file asset to ``dest``, checked against the sha256 its product's
        manifest records; a mismatch leaves nothing at ``dest``."""
        found = next((a for a in self.product(product, version).assets if a.name == asset), None)
        if found is None:
            raise FrameworkError(f"product {product} {version} has no asset {asset!r}")
        target = Path(dest)
        partial = target.with_name(f".{target.name}.part")
        try:
            with partial.open("wb") as out:
                digest = hashlib.sha256()
                for chunk in self._client.download(found.url):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != found.sha256:
                raise FrameworkError(
                    f"asset {asset} of {product} {version} arrived with sha256 "
                    f"{digest.hexdigest()}, not {found.sha256} as its manifest says: "
                    "nothing was kept; verify the store ('pipl asset verify')"
                )
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return target


class Transaction:
    """Promotions gathered by ``with client.transaction() as tx: tx.promote(...)`` and
    sent as one operation when the block ends: all of them happen, or none."""

    def __init__(self, client: Caller, *, with_deps: bool = False) -> None:
        self._client = client
        self.with_deps = with_deps
        self.releases: list[dict[str, Any]] = []
        self.result: list[Promotion] = []

    def promote(
        self, project: str, version: str, to: str | None = None, source: str | None = None
    ) -> None:
        self.releases.append({"project": project, "version": version, "to": to, "source": source})

    def commit(self) -> list[Promotion]:
        if not self.releases:
            return []
        self.result = self._client.call(
            promotion.promote_set, releases=self.releases, with_deps=self.with_deps
        )
        return self.result

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:
            self.commit()
