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

from pipl.api.client import operations as op
from pipl.api.client.remote import Domain, Sender, remote
from pipl.api.releases import MAX_UPLOAD, AllowedNames, Maintainers, Promotion, Uploaded
from pipl.errors import FrameworkError, UsageError


class ReleasesApi(Domain):
    """``client.releases``: what the project's stages hold, and changing it."""

    stages = remote(op.releases_stages)
    packls = remote(op.releases_packls)
    list = remote(op.releases_list)
    get = remote(op.releases_get)
    maintainers = remote(op.releases_maintainers)
    review = remote(op.releases_review)
    reviews = remote(op.releases_reviews)
    yank = remote(op.releases_yank)
    names = remote(op.releases_names)
    derived = remote(op.releases_derived)
    products = remote(op.products_list)
    product = remote(op.products_get)
    verify_asset = remote(op.products_verify)

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
        return op.releases_upload(self._client, files=files, stage=stage, replace=replace)

    def change_maintainers(
        self,
        stage: str,
        project: str,
        *,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
    ) -> Maintainers:
        """Add and remove maintainers of ``project`` on ``stage`` (as one of them)."""
        return op.releases_maintainers_change(
            self._client,
            stage=stage,
            project=project,
            add=builtins.list(add),
            remove=builtins.list(remove),
        )

    def change_names(self, name: str, *, allowed: bool = True) -> AllowedNames:
        """Allow ``name`` past the first stage (``allowed=False``: disallow it), as the owner
        or root; allowing queues again the promote jobs the name held."""
        return op.releases_names_change(self._client, project=name, allowed=allowed)

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

    def __init__(self, client: Sender, *, with_deps: bool = False) -> None:
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
        self.result = op.releases_promote_set(
            self._client, releases=self.releases, with_deps=self.with_deps
        )
        return self.result

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:
            self.commit()
