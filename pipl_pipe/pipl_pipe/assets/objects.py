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
import shutil
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from pipl_pipe.errors import AssetCorrupted, AssetError, AssetMissing

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


class StoreBase:
    """Reading shared by every store: verified copies out, trees, verification.

    A store subclass opens an object for reading (``_open_object``); everything that reads
    objects goes through the hash check here, so no store can hand out unverified bytes.
    """

    url: str

    def _open_object(self, sha256: str) -> BinaryIO:
        raise NotImplementedError

    def _put_file(self, path: Path) -> tuple[str, int, bool]:
        """Store one file; return its sha256, size, and whether it was new."""
        raise NotImplementedError

    def _put_document(self, sha256: str, data: bytes) -> bool:
        """Store a small object (a tree document) unless present; True if it was new."""
        raise NotImplementedError

    def put(self, path: Path) -> Stored:
        """Store a file, or a folder as its files plus a tree object."""
        path = Path(path)
        if path.is_dir():
            return self._put_tree(path)
        if path.is_file():
            sha, size, added = self._put_file(path)
            return Stored(sha, size, "file", added)
        raise AssetMissing(f"{path}: no such file or folder to add")

    def _put_tree(self, folder: Path) -> Stored:
        entries: list[dict[str, Any]] = []
        added = False
        total = 0
        for file in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
            if file.is_symlink():
                raise AssetError(f"{file}: symbolic links cannot be stored in an asset folder")
            sha, size, new = self._put_file(file)
            added |= new
            total += size
            entries.append(
                {
                    "path": file.relative_to(folder).as_posix(),
                    "sha256": sha,
                    "size": size,
                    "exec": bool(file.stat().st_mode & stat.S_IXUSR),
                }
            )
        document = tree_document(entries)
        tree_sha = hashlib.sha256(document).hexdigest()
        added |= self._put_document(tree_sha, document)
        return Stored(tree_sha, total, "tree", added)

    def kind_of(self, sha256: str) -> str:
        """``tree`` for a folder object, else ``file``."""
        with self._open_object(sha256) as fh:
            return "tree" if fh.read(len(TREE_PREFIX)) == TREE_PREFIX else "file"

    def read_tree(self, sha256: str) -> list[dict[str, Any]]:
        with self._open_object(sha256) as fh:
            data = fh.read()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise corrupted(sha256, self.url)
        try:
            doc = json.loads(data)
            if doc["format"] != TREE_FORMAT:
                raise ValueError(doc["format"])
            return list(doc["files"])
        except (ValueError, KeyError, TypeError):
            raise AssetError(
                f"object {sha256} in {self.url} is not a folder (tree) object"
            ) from None

    def verify(self, sha256: str) -> None:
        """Raise ``AssetCorrupted`` unless the object's content hashes to its name."""
        digest = hashlib.sha256()
        with self._open_object(sha256) as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise corrupted(sha256, self.url)

    def fetch(self, sha256: str, dest: Path, kind: str = "file") -> Path:
        """Copy an object out to ``dest`` (a folder for a tree), verified, all or nothing."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        try:
            if kind == "tree":
                for entry in self.read_tree(sha256):
                    relative = Path(entry["path"])
                    if ".." in relative.parts or relative.is_absolute():
                        raise AssetError(f"tree {sha256} names an unsafe path {entry['path']!r}")
                    target = staging / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    self._copy_out(entry["sha256"], target)
                    if entry.get("exec"):
                        target.chmod(0o755)
                if dest.exists():
                    shutil.rmtree(dest)
            else:
                self._copy_out(sha256, staging)
            os.replace(staging, dest)
        except BaseException:
            if staging.is_dir():
                shutil.rmtree(staging, ignore_errors=True)
            else:
                staging.unlink(missing_ok=True)
            raise
        return dest

    def _copy_out(self, sha256: str, target: Path) -> None:
        digest = hashlib.sha256()
        with self._open_object(sha256) as fin, target.open("wb") as fout:
            while chunk := fin.read(CHUNK):
                digest.update(chunk)
                fout.write(chunk)
        if digest.hexdigest() != sha256:
            target.unlink(missing_ok=True)
            raise corrupted(sha256, self.url)
        target.chmod(0o644)
