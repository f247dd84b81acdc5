"""What the REST client returns about release files: links as devpi lists them, and the
results of uploads and pushes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Link:
    """A file of a release on an index."""

    basename: str
    href: str
    rel: str
    sha256: str | None
    for_href: str | None = None

    @property
    def index(self) -> str:
        """The index holding the file (``user/index``), read from its URL."""
        parts = urlsplit(self.href).path.strip("/").split("/")
        for marker in ("+f", "+e"):
            if marker in parts and parts.index(marker) >= 2:
                at = parts.index(marker)
                return f"{parts[at - 2]}/{parts[at - 1]}"
        return ""


def links_of(versiondata: dict[str, Any]) -> list[Link]:
    """The links of one version's data as devpi's JSON API gives it."""
    return [
        Link(
            basename=link["href"].rsplit("/", 1)[-1].split("#", 1)[0],
            href=link["href"].split("#", 1)[0],
            rel=link.get("rel", ""),
            sha256=(link.get("hashes") or {}).get("sha256"),
            for_href=link.get("for_href"),
        )
        for link in versiondata.get("+links", [])
    ]


@dataclass(frozen=True)
class UploadResult:
    filename: str
    index: str
    uploaded: bool  # False: an identical file was there already
    replaced: bool = False  # True: a file of the same name with other content was replaced

    @property
    def action(self) -> str:
        if self.replaced:
            return "replaced"
        return "uploaded" if self.uploaded else "identical, skipped"


@dataclass(frozen=True)
class PushResult:
    project: str
    version: str
    source: str
    target: str
    copied: list[str]
    skipped: list[str]
