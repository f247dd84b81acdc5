"""Checking stored objects: each one re-hashed against its name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipl_pipe.assets.objects import AssetStore, check_sha
from pipl_pipe.errors import AssetCorrupted, AssetMissing


@dataclass
class VerifyReport:
    store: str
    checked: int = 0
    corrupted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.corrupted and not self.missing


def verify_objects(
    store: AssetStore,
    shas: Sequence[str] = (),
    *,
    on_each: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Re-hash ``shas`` (every object if none); report the corrupted and missing ones.

    A name that is not a sha256 raises ``AssetError`` before anything is read."""
    todo = [check_sha(s) for s in shas] if shas else [sha for sha, _ in store.objects()]
    report = VerifyReport(store=store.url)
    for sha in todo:
        try:
            store.verify(sha)
        except AssetCorrupted:
            report.corrupted.append(sha)
        except AssetMissing:
            report.missing.append(sha)
        report.checked += 1
        if on_each is not None:
            on_each(sha)
    return report
