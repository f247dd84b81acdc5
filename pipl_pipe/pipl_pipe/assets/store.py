"""The asset store: large files and folders stored by content hash (sha256).

Like git-lfs objects, an object lives at ``ROOT/objects/ab/abcdef...`` named by the sha256
of its content. A folder is stored as its files plus a *tree* object: canonical JSON
listing each file's relative path, sha256, size and executable bit; the store records that
an object is a tree with an empty file ``ROOT/trees/ab/abcdef...`` (``ROOT/store.json``
says the store keeps these records).

- Writes are atomic: content goes to ``ROOT/incoming`` first and is renamed into place, so a
  reader never sees half an object, and two writers of the same content end with one.
- The name is the hash of the bytes stored: a regular file is copied in the kernel and
  the copy itself is hashed as it lands; a pipe (or a file whose ``stat`` says nothing of
  its content) is read once, into memory that feeds both the copy and the hash.
- Adding an object again refreshes its age (mtime), which garbage collection's grace
  period counts from.
- Reads verify: ``fetch`` hashes what it copies out and refuses a mismatch.
- The store owns paths; asset types (``pipl_pipe.assets.types``) own file names.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from pipl_pipe.assets.hashcache import HashCache
from pipl_pipe.assets.objects import (
    CHUNK,
    STORE_FORMAT,
    STORE_INFO,
    StoreBase,
    changed,
    check_sha,
    copy_hashing,
    corrupted,
    hash_file,
)
from pipl_pipe.errors import AssetMissing
from pipl_pipe.fsutil import atomic_write, locked

STEP = 32 << 20  # bytes copied between two looks of the hasher


def copy_hashing_the_copy(fin: BinaryIO, fout: BinaryIO) -> tuple[str, int]:
    """Copy ``fin`` into ``fout`` (in the kernel where it can) and return the sha256 and
    size of what landed in ``fout``: a thread hashes the copy itself as it grows, from the
    page cache, so the name is that of the bytes stored, at the cost of a plain copy.
    ``fout`` must be open for reading too (``w+b``)."""
    src, dst = fin.fileno(), fout.fileno()
    digest = hashlib.sha256()
    state = {"copied": 0, "done": False}
    failure: list[BaseException] = []
    progress = threading.Condition()

    def hash_copy() -> None:
        pos = 0
        try:
            while True:
                with progress:
                    while state["copied"] <= pos and not state["done"]:
                        progress.wait()
                    upto = state["copied"]
                if upto <= pos:
                    return
                start = pos - pos % mmap.ALLOCATIONGRANULARITY
                with mmap.mmap(dst, upto - start, offset=start, access=mmap.ACCESS_READ) as m:
                    view = memoryview(m)
                    try:
                        digest.update(view[pos - start :])
                    finally:
                        view.release()
                pos = upto
        except BaseException as exc:  # handed to the copying thread, raised there
            failure.append(exc)

    def advance(n: int) -> None:
        with progress:
            state["copied"] += n
            progress.notify()

    hasher = threading.Thread(target=hash_copy, name="pipl-asset-hash", daemon=True)
    hasher.start()
    try:
        try:
            while n := os.copy_file_range(src, dst, STEP):
                advance(n)
        except OSError:  # not in the kernel here (another file system...): read and write
            fin.seek(state["copied"])
            fout.seek(state["copied"])
            buffer = bytearray(CHUNK)
            while n := fin.readinto(buffer):  # type: ignore[attr-defined]  # binary files have it
                fout.write(memoryview(buffer)[:n])
                fout.flush()
                advance(n)
    finally:
        with progress:
            state["done"] = True
            progress.notify()
        hasher.join()
    if failure:
        raise failure[0]
    return digest.hexdigest(), state["copied"]


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino, a.st_size, a.st_mtime_ns) == (
        b.st_dev,
        b.st_ino,
        b.st_size,
        b.st_mtime_ns,
    )


class LocalStore(StoreBase):
    """An asset store in a local (or mounted) folder."""

    def __init__(
        self, root: Path, *, hashes: HashCache | None = None, durable: bool = True
    ) -> None:
        self.root = Path(root).expanduser().absolute()
        self.url = str(self.root)
        self.hashes = hashes or HashCache()
        self.durable = durable

    def close(self) -> None:
        self.hashes.close()

    # -- layout -----------------------------------------------------------------------
    def object_path(self, sha256: str) -> Path:
        check_sha(sha256)
        return self.root / "objects" / sha256[:2] / sha256

    def _tree_record(self, sha256: str) -> Path:
        check_sha(sha256)
        return self.root / "trees" / sha256[:2] / sha256

    def _tmp(self) -> Path:
        tmp = self.root / "incoming"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp / f"{uuid.uuid4().hex}.part"

    def has(self, sha256: str) -> bool:
        return self.object_path(sha256).is_file()

    def size_of(self, sha256: str) -> int:
        return self._require(sha256).stat().st_size

    def _kinds_recorded(self) -> bool:
        return (self.root / STORE_INFO).is_file()

    def _write_store_info(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(self.root / STORE_INFO, json.dumps({"format": STORE_FORMAT}) + "\n")

    def _store_lock(self) -> contextlib.AbstractContextManager[object]:
        self.root.mkdir(parents=True, exist_ok=True)
        return locked(self.root / STORE_INFO)

    def _tree_recorded(self, sha256: str) -> bool:
        return self._tree_record(sha256).is_file()

    def _record_tree(self, sha256: str) -> None:
        record = self._tree_record(sha256)
        if not record.is_file():
            record.parent.mkdir(parents=True, exist_ok=True)
            record.touch()

    # -- writing ------------------------------------------------------------------------
    def _touch(self, sha256: str) -> bool:
        """Refresh an object's age; False if it is absent or this user may not touch it."""
        try:
            os.utime(self.object_path(sha256))
        except (FileNotFoundError, PermissionError):
            return False
        return True

    def _put_file(self, path: Path) -> tuple[str, int, bool]:
        st = os.stat(path)
        # a regular file with a size is known by its stat; pipes and files whose stat says
        # nothing about their content (size 0, as in /proc) are always read
        cacheable = stat.S_ISREG(st.st_mode) and st.st_size > 0
        if cacheable:
            known = self.hashes.get(path.resolve(), st)
            if known and self._touch(known):
                return known, st.st_size, False
        tmp = self._tmp()
        try:
            with path.open("rb") as fin, tmp.open("w+b") as fout:
                if cacheable:
                    sha, size = copy_hashing_the_copy(fin, fout)
                else:  # a pipe, or a file whose stat does not tell: read once, as it comes
                    sha, size = copy_hashing(fin, fout)
                if self.durable:
                    fout.flush()
                    os.fsync(fout.fileno())
            if cacheable and not _same_file(st, os.stat(path)):
                raise changed(path)
            added = self._commit(tmp, sha)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if cacheable:
            self.hashes.put(path.resolve(), st, sha)
        return sha, size, added

    def _commit(self, tmp: Path, sha: str) -> bool:
        """Move ``tmp`` (content hashing to ``sha``) into place; False if it was there."""
        final = self.object_path(sha)
        if final.exists() and self._touch(sha):
            tmp.unlink()
            return False
        existed = final.exists()  # and owned by another user: replaced by this copy
        tmp.chmod(0o444)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)  # atomic; a concurrent writer of the same content is harmless
        return not existed

    def _put_document(self, sha256: str, data: bytes) -> bool:
        if self._touch(sha256):
            return False
        tmp = self._tmp()
        try:
            with tmp.open("wb") as fh:
                fh.write(data)
                if self.durable:
                    fh.flush()
                    os.fsync(fh.fileno())
            return self._commit(tmp, sha256)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

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

    def remove(self, sha256: str, *, older_than: float | None = None) -> bool:
        """Remove an object (tree records stay: they describe bytes, not an object).

        With ``older_than`` (seconds), only if it was not added in that time: the object
        is moved aside first and its age read there, so an add that refreshed it before
        the move keeps it, and an add after the move finds it gone and stores it again."""
        obj = self.object_path(sha256)
        if older_than is None:
            try:
                obj.unlink()
            except FileNotFoundError:
                return False
            return True
        aside = self._tmp().with_suffix(".gc")
        try:
            os.rename(obj, aside)
        except FileNotFoundError:
            return False
        if time.time() - aside.stat().st_mtime < older_than:
            os.replace(aside, obj)  # added again meanwhile: put it back
            return False
        aside.unlink()
        return True
