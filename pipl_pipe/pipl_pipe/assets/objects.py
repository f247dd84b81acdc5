"""What every asset store shares: object names (sha256), results, tree documents.

A file object is named by the sha256 of its content. A folder is stored as its files plus
a *tree* object: canonical JSON listing each file's relative path, sha256, size and
executable bit, so the same folder content always gives the same tree hash.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pipl_pipe.errors import AssetCorrupted, AssetError

CHUNK = 8 << 20
TREE_FORMAT = "pipl-tree/1"
TREE_PREFIX = b'{"files":'  # canonical tree documents start so (sorted keys)


@dataclass(frozen=True)
class Stored:
    """What ``put`` stored: the object's hash, the content size, file or tree."""

    sha256: str
    size: int
    kind: str  # "file" | "tree"
    added: bool  # False: the store had it already


class AssetStore(Protocol):
    url: str

    def put(self, path: Path) -> Stored: ...
    def has(self, sha256: str) -> bool: ...
    def fetch(self, sha256: str, dest: Path, kind: str = "file") -> Path: ...
    def verify(self, sha256: str) -> None: ...
    def kind_of(self, sha256: str) -> str: ...
    def read_tree(self, sha256: str) -> list[dict[str, Any]]: ...
    def mtime(self, sha256: str) -> float: ...
    def objects(self) -> Iterator[tuple[str, int]]: ...
    def remove(self, sha256: str) -> None: ...


def check_sha(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise AssetError(f"{sha256!r} is not a sha256 (64 lowercase hex digits)")
    return sha256


def hash_file(path: Path) -> str:
    """sha256 of a file; large files are hashed straight from the page cache (mmap)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < CHUNK:
            digest.update(fh.read())
            return digest.hexdigest()
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                for start in range(0, size, 8 * CHUNK):
                    digest.update(view[start : start + 8 * CHUNK])
            finally:
                view.release()
    return digest.hexdigest()


def tree_document(entries: list[dict[str, Any]]) -> bytes:
    """Canonical bytes of a tree object (same folder content, same hash)."""
    body = {"format": TREE_FORMAT, "files": sorted(entries, key=lambda e: str(e["path"]))}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def corrupted(sha256: str, url: str) -> AssetCorrupted:
    return AssetCorrupted(
        f"object {sha256} in {url} is corrupted (its content no longer hashes to its name): "
        "restore it from a backup, or remove it and add the asset again"
    )
