"""The asset store: large files and folders stored by content hash (sha256).

Like git-lfs objects, an object lives at ``ROOT/objects/ab/abcdef...`` named by the sha256
of its content. A folder is stored as its files plus a *tree* object: canonical JSON
listing each file's relative path, sha256, size and executable bit.

- Writes are atomic: content goes to ``ROOT/incoming`` first and is renamed into place, so a
  reader never sees half an object, and two writers of the same content end with one.
- Reads verify: ``fetch`` hashes what it copies out and refuses a mismatch.
- The store owns paths; asset types (``pipl_pipe.assets.types``) own file names.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from pipl_pipe.assets.hashcache import HashCache
from pipl_pipe.assets.objects import (
    CHUNK,
    StoreBase,
    check_sha,
    corrupted,
    hash_file,
)
from pipl_pipe.errors import AssetError, AssetMissing


def _copy_data(src: Path, dst: Path) -> None:
    """Copy bytes in the kernel where it can (copy_file_range may even share extents)."""
    with src.open("rb") as fin, dst.open("wb") as fout:
        size = os.fstat(fin.fileno()).st_size
        copied = 0
        try:
            while copied < size:
                n = os.copy_file_range(fin.fileno(), fout.fileno(), size - copied)
                if n == 0:
                    break
                copied += n
        except (AttributeError, OSError):
            fin.seek(copied)
            fout.seek(copied)
            shutil.copyfileobj(fin, fout, CHUNK)
        fout.flush()


class LocalStore(StoreBase):
    """An asset store in a local (or mounted) folder."""

    def __init__(
        self, root: Path, *, hashes: HashCache | None = None, durable: bool = True
    ) -> None:
        self.root = Path(root).expanduser().absolute()
        self.url = str(self.root)
        self.hashes = hashes or HashCache()
        self.durable = durable

    # -- layout -----------------------------------------------------------------------
    def object_path(self, sha256: str) -> Path:
        check_sha(sha256)
        return self.root / "objects" / sha256[:2] / sha256

    def _tmp(self) -> Path:
        tmp = self.root / "incoming"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp / f"{uuid.uuid4().hex}.part"

    def has(self, sha256: str) -> bool:
        return self.object_path(sha256).is_file()

    # -- writing ------------------------------------------------------------------------
    def _put_file(self, path: Path) -> tuple[str, int, bool]:
        st = path.stat()
        known = self.hashes.get(path.resolve(), st)
        if known and self.has(known):
            return known, st.st_size, False
        tmp = self._tmp()
        digest: dict[str, str] = {}

        def hash_it() -> None:
            digest["sha"] = hash_file(path)

        hasher = threading.Thread(target=hash_it)  # hashing and copying overlap
        hasher.start()
        try:
            _copy_data(path, tmp)
            hasher.join()
            if "sha" not in digest:
                raise AssetError(f"{path}: could not be read while adding it")
            sha = digest["sha"]
            if path.stat().st_mtime_ns != st.st_mtime_ns:
                raise AssetError(f"{path} changed while it was being added; add it again")
            added = self._commit(tmp, sha)
        except BaseException:
            hasher.join()
            tmp.unlink(missing_ok=True)
            raise
        self.hashes.put(path.resolve(), st, sha)
        return sha, st.st_size, added

    def _commit(self, tmp: Path, sha: str) -> bool:
        final = self.object_path(sha)
        if final.exists():
            tmp.unlink()
            return False
        if self.durable:
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
        tmp.chmod(0o444)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)  # atomic; a concurrent writer of the same content is harmless
        return True

    def _put_document(self, sha256: str, data: bytes) -> bool:
        if self.has(sha256):
            return False
        tmp = self._tmp()
        tmp.write_bytes(data)
        return self._commit(tmp, sha256)

    # -- reading ------------------------------------------------------------------------
    def _require(self, sha256: str) -> Path:
        obj = self.object_path(sha256)
        if not obj.is_file():
            raise AssetMissing(f"object {sha256} is not in the asset store {self.url}")
        return obj

    def _open_object(self, sha256: str) -> BinaryIO:
        return self._require(sha256).open("rb")

    def verify(self, sha256: str) -> None:
        """Raise ``AssetCorrupted`` unless the object hashes to its name (hashed in place)."""
        if hash_file(self._require(sha256)) != sha256:
            raise corrupted(sha256, self.url)

    def objects(self) -> Iterator[tuple[str, int]]:
        base = self.root / "objects"
        if not base.is_dir():
            return
        for sub in sorted(base.iterdir()):
            for obj in sorted(sub.iterdir()):
                yield obj.name, obj.stat().st_size

    def mtime(self, sha256: str) -> float:
        return self._require(sha256).stat().st_mtime

    def remove(self, sha256: str) -> None:
        self.object_path(sha256).unlink(missing_ok=True)
