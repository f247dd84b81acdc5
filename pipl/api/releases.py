"""Stages, packls, releases with their files and QA results, products, assets, promotion."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipl.api.flow import Stale

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
