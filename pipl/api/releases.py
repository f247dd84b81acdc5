"""Stages, packls, releases with their files and QA results, products, assets, promotion."""

from __future__ import annotations

import base64
import builtins
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipl.api.flow import Stale
from pipl.api.lifecycle import Derived, Yank
from pipl.api.models import build, build_list
from pipl.api.ops import declare
from pipl.api.reviews import ReleaseReview, ReleaseReviews
from pipl.errors import FrameworkError, UsageError

if TYPE_CHECKING:
    from pipl.api.client import Client

declare("releases.stages", "GET", "/stages", summary="the project's stages")
declare("releases.packls", "GET", "/packls", summary="the packls on the stages")
declare("releases.list", "GET", "/stages/{stage}/releases", summary="a stage's releases")
declare("releases.get", "GET", "/releases/{stage}/{project}/{version}", summary="a release")
declare("releases.upload", "POST", "/upload", "user", "upload release files")
declare("releases.promote", "POST", "/promote", "owner", "promoting a release")
declare("releases.promote_set", "POST", "/promote-set", "owner", "promoting releases")
declare(
    "releases.maintainers",
    "GET",
    "/maintainers/{stage}/{project}",
    summary="a project's maintainers on a stage",
)
declare(
    "releases.maintainers_change",
    "POST",
    "/maintainers/{stage}/{project}",
    "user",
    "changing a project's maintainers",
)
declare(
    "releases.review",
    "POST",
    "/reviews/{stage}/{project}/{version}",
    "user",
    "approving or rejecting a release",
)
declare(
    "releases.reviews",
    "GET",
    "/reviews/{stage}/{project}/{version}",
    summary="the approvals and rejects of a release",
)
declare("releases.yank", "POST", "/yank", "user", "yanking or restoring a release")
declare("releases.names", "GET", "/names", summary="public names allowed past the first stage")
declare("releases.names_change", "POST", "/names", "owner", "allowing or disallowing a name")
declare(
    "releases.derived",
    "GET",
    "/derived/{project}/{version}",
    summary="what was made from a release, transitively",
)
declare("products.list", "GET", "/products", summary="the products")
declare("products.get", "GET", "/products/{product}/{version}", summary="a product")
declare(
    "products.verify",
    "GET",
    "/products/{product}/{version}/assets/{asset}/verify",
    summary="verify a stored asset",
)

MAX_UPLOAD = 200 << 20  # bytes per upload request


@dataclass(frozen=True)
class Stage:
    """A stage index of the project, in promotion order."""

    name: str  # dev
    index: str  # studio/dev
    bases: list[str]
    promote_to: str  # "" for the last stage
    handlers: list[str]
    volatile: bool
    releases: int  # how many releases it holds itself


@dataclass(frozen=True)
class Packl:
    """A packl (project) on the stages: its newest version on each stage that has it."""

    name: str
    product: bool
    versions: dict[str, str]  # stage -> newest version there


@dataclass(frozen=True)
class ReleaseSummary:
    project: str
    version: str
    stage: str
    index: str
    seen: float  # when its first file arrived on the stage
    files: int
    product: bool
    qa: str  # passed | failed | pending | none (QA ran no test, or no QA job)
    promoted: bool = False  # on the stage it promotes to already


@dataclass(frozen=True)
class ReleaseList:
    """One page of a stage's releases, newest first."""

    stage: str
    index: str
    promote_to: str
    releases: list[ReleaseSummary]
    total: int
    offset: int
    limit: int
    serial: int | None  # the server's serial the list is true at
    fresh: bool  # False: the runner has not caught up with the server's last changes


@dataclass(frozen=True)
class FileInfo:
    name: str
    size: int | None
    sha256: str
    url: str


@dataclass(frozen=True)
class QaResult:
    """A test result devpi keeps for a release file (a toxresult), one per environment."""

    file: str
    env: str
    passed: bool
    host: str = ""
    platform: str = ""
    job: int | None = None
    commands: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class JobSummary:
    id: int
    handler: str
    state: str
    index: str
    started: float | None
    finished: float | None
    message: str


@dataclass(frozen=True)
class Requirement:
    """What the release needs, and the version the release's stage would install."""

    text: str
    name: str
    found: str | None  # None: nothing on the stage's chain satisfies it


@dataclass(frozen=True)
class Upstream:
    """A release a product was made from: its pin and the hashes of the files it was
    made from; ``matches`` says whether the index still serves those bytes."""

    name: str
    version: str
    files: dict[str, str]
    stage: str | None  # the first stage holding it now, None: on none
    matches: bool


@dataclass(frozen=True)
class Consumer:
    """A product made from a release."""

    product: str
    version: str
    stage: str


@dataclass(frozen=True)
class Asset:
    product: str
    version: str
    name: str
    type: str
    size: int
    sha256: str
    kind: str  # file | tree
    suffix: str
    url: str  # the dashboard's download path


@dataclass(frozen=True)
class Product:
    name: str
    version: str
    stages: list[str]
    type: str
    description: str
    sources: list[str]
    assets: list[Asset]
    error: str = ""  # why the manifest could not be read
    from_yanked: list[str] = field(default_factory=list)  # yanked releases it was made from
    stale: list[Stale] = field(default_factory=list)  # newer upstream releases that did not flow


@dataclass(frozen=True)
class Release:
    project: str
    version: str
    stage: str
    index: str
    stages: list[str]  # every stage holding it
    promote_to: str
    seen: float
    product: bool
    qa: str
    files: list[FileInfo]
    qa_results: list[QaResult]
    jobs: list[JobSummary]
    requires: list[Requirement]
    upstream: list[Upstream]  # for a product: what it was made from
    consumers: list[Consumer]  # products made from this release
    manifest: Product | None = None
    yanked: str | None = None  # why it is yanked on this stage; None: it is not
    from_yanked: list[str] = field(default_factory=list)  # yanked releases it was made from


@dataclass(frozen=True)
class Moved:
    project: str
    version: str
    source: str
    target: str
    files: list[str]
    required_by: str | None = None


@dataclass(frozen=True)
class Promotion:
    """What a promotion moved (or, with ``dry_run``, would move)."""

    project: str
    version: str
    source: str
    target: str
    dry_run: bool
    moves: list[Moved]
    missing: list[str]


@dataclass(frozen=True)
class Uploaded:
    filename: str
    index: str
    action: str  # uploaded | identical, skipped | replaced


@dataclass(frozen=True)
class Maintainers:
    """Who may upload, push and delete a project on a stage (the server enforces it):
    ``maintainers`` listed for it, and ``implicit`` (the stage's owner and root)."""

    stage: str
    index: str
    project: str
    maintainers: list[str]
    implicit: list[str]


@dataclass(frozen=True)
class AllowedNames:
    """The names the owner let past the first stage although PyPI or the base index has
    them; ``retried``: the promote jobs an allow queued again."""

    stage: str
    index: str
    names: list[str]
    retried: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class AssetCheck:
    sha256: str
    ok: bool
    message: str


class ReleasesApi:
    """``client.releases``: what each stage index holds, and moving it to the next."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def stages(self) -> list[Stage]:
        return build_list(Stage, self._client._call("releases.stages"))

    def packls(self) -> list[Packl]:
        return build_list(Packl, self._client._call("releases.packls"))

    def list(self, stage: str, *, offset: int = 0, limit: int = 50) -> ReleaseList:
        """A stage's releases, newest first, ``limit`` from ``offset``."""
        answer = self._client._call("releases.list", stage=stage, offset=offset, limit=limit)
        return build(ReleaseList, answer)

    def get(self, stage: str, project: str, version: str) -> Release:
        """One release on ``stage``: files, QA results, CI jobs, requirements, provenance."""
        answer = self._client._call("releases.get", stage=stage, project=project, version=version)
        return build(Release, answer)

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
        answer = self._client._call("releases.upload", files=files, stage=stage, replace=replace)
        return build_list(Uploaded, answer)

    def maintainers(self, stage: str, project: str) -> Maintainers:
        """Who maintains ``project`` on ``stage``."""
        answer = self._client._call("releases.maintainers", stage=stage, project=project)
        return build(Maintainers, answer)

    def change_maintainers(
        self,
        stage: str,
        project: str,
        *,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
    ) -> Maintainers:
        """Add and remove maintainers of ``project`` on ``stage`` (as one of them)."""
        answer = self._client._call(
            "releases.maintainers_change",
            stage=stage,
            project=project,
            add=list(add),
            remove=list(remove),
        )
        return build(Maintainers, answer)

    def review(
        self, stage: str, project: str, version: str, decision: str, comment: str = ""
    ) -> ReleaseReview:
        """Approve or reject (``decision``, a reject with a ``comment``) ``project
        version`` on ``stage``, for the files it has there now."""
        answer = self._client._call(
            "releases.review",
            stage=stage,
            project=project,
            version=version,
            decision=decision,
            comment=comment,
        )
        return build(ReleaseReview, answer)

    def reviews(self, stage: str, project: str, version: str) -> ReleaseReviews:
        """The approvals and rejects of ``project version`` on ``stage``, each marked
        ``valid`` while it counts for the release's current files."""
        answer = self._client._call(
            "releases.reviews", stage=stage, project=project, version=version
        )
        return build(ReleaseReviews, answer)

    def yank(
        self, stage: str, project: str, version: str, *, yanked: bool = True, reason: str = ""
    ) -> Yank:
        """Yank ``project version`` on ``stage`` (``yanked=False``: restore it), as one of
        its maintainers there: pip and uv skip it unless it is pinned with ``==``."""
        answer = self._client._call(
            "releases.yank",
            stage=stage,
            project=project,
            version=version,
            yanked=yanked,
            reason=reason,
        )
        return build(Yank, answer)

    def names(self) -> AllowedNames:
        """The public names (on PyPI or the base index) the owner let past the first stage."""
        return build(AllowedNames, self._client._call("releases.names"))

    def change_names(self, name: str, *, allowed: bool = True) -> AllowedNames:
        """Allow ``name`` past the first stage (``allowed=False``: disallow it), as the owner
        or root; allowing queues again the promote jobs the name held."""
        answer = self._client._call("releases.names_change", project=name, allowed=allowed)
        return build(AllowedNames, answer)

    def derived(self, project: str, version: str) -> builtins.list[Derived]:
        """Every release made from ``project version``, transitively, nearest first."""
        answer = self._client._call("releases.derived", project=project, version=version)
        return build_list(Derived, answer)

    # -- products ---------------------------------------------------------------------
    def products(self, *, offset: int = 0, limit: int = 50) -> builtins.list[Product]:
        return build_list(Product, self._client._call("products.list", offset=offset, limit=limit))

    def product(self, name: str, version: str) -> Product:
        return build(Product, self._client._call("products.get", product=name, version=version))

    def verify_asset(self, product: str, version: str, asset: str) -> AssetCheck:
        """Re-hash the stored object of an asset on the project's side."""
        answer = self._client._call(
            "products.verify", product=product, version=version, asset=asset
        )
        return build(AssetCheck, answer)

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
                for chunk in self._client._transport.download(found.url):
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

    def __init__(self, client: Client, *, with_deps: bool = False) -> None:
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
        answer = self._client._call(
            "releases.promote_set", releases=self.releases, with_deps=self.with_deps
        )
        self.result = build_list(Promotion, answer)
        return self.result

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:
            self.commit()
