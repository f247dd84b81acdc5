"""An asset store on any fsspec file system (SFTP, memory...): extra ``fsspec``.

Same layout and guarantees as ``LocalStore``: objects named by sha256 under
``URL/objects/ab/``, tree records under ``URL/trees/ab/`` (and ``URL/store.json``), uploads
land under a temporary name first and are named by the hash of the bytes uploaded,
downloads are verified. Object
stores cannot change an object's time without rewriting it, so adding an object again
writes an empty stamp ``URL/stamps/ab/abcd...``; an object's age is that of its newest
write or stamp, counted on the store's clock (``URL/clock``), not on this machine's.
S3 has its own subclass (``pipl_pipe.assets.s3``), which writes each object once, to its
final key.
"""

from __future__ import annotations

import json
import os
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from pipl_pipe.assets.hashcache import HashCache
from pipl_pipe.assets.objects import (
    STORE_FORMAT,
    STORE_INFO,
    StoreBase,
    changed,
    check_sha,
    copy_hashing,
    hash_file,
)
from pipl_pipe.errors import AssetError, AssetMissing


def _seconds(info: dict[str, Any]) -> float:
    value = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
    return float(value.timestamp() if hasattr(value, "timestamp") else value)


class FsspecStore(StoreBase):
    def __init__(
        self,
        url: str,
        *,
        hashes: HashCache | None = None,
        durable: bool = True,
        **storage_options: Any,
    ) -> None:
        try:
            import fsspec
        except ImportError:
            raise AssetError(
                f"the asset store {url} needs fsspec: install pipl-pipe[fsspec] "
                "(and the file system's own package, e.g. s3fs)"
            ) from None
        self.url = url.rstrip("/")
        self.fs, self.base = fsspec.core.url_to_fs(self.url, **storage_options)
        self.base = self.base.rstrip("/")
        self.hashes = hashes or HashCache()
        del durable  # object stores commit whole objects

    def close(self) -> None:
        self.hashes.close()

    def _makedirs(self, path: str) -> None:
        """Make a folder where the file system has folders (object stores have none)."""
        self.fs.makedirs(path, exist_ok=True)

    def _path(self, area: str, sha256: str) -> str:
        check_sha(sha256)
        return f"{self.base}/{area}/{sha256[:2]}/{sha256}"

    def _key(self, sha256: str) -> str:
        return self._path("objects", sha256)

    def has(self, sha256: str) -> bool:
        return bool(self.fs.exists(self._key(sha256)))

    def size_of(self, sha256: str) -> int:
        return int(self.fs.info(self._key(sha256)).get("size") or 0)

    def _kinds_recorded(self) -> bool:
        return bool(self.fs.exists(f"{self.base}/{STORE_INFO}"))

    def _write_store_info(self) -> None:
        self._makedirs(self.base)
        self.fs.pipe_file(
            f"{self.base}/{STORE_INFO}", (json.dumps({"format": STORE_FORMAT}) + "\n").encode()
        )

    def _tree_recorded(self, sha256: str) -> bool:
        return bool(self.fs.exists(self._path("trees", sha256)))

    def _mark(self, area: str, sha256: str) -> None:
        path = self._path(area, sha256)
        self._makedirs(path.rsplit("/", 1)[0])
        self.fs.pipe_file(path, b"")

    def _record_tree(self, sha256: str) -> None:
        if not self._tree_recorded(sha256):
            self._mark("trees", sha256)

    def _touch(self, sha256: str) -> bool:
        """Refresh an object's age (a stamp beside it); False if the object is absent.

        The object is looked for again after the stamp is written: a garbage collection
        that moves it away before the stamp puts it back on seeing the stamp, one that
        moves it away after makes this look fail (and the caller store it again)."""
        if not self.has(sha256):
            return False
        self._mark("stamps", sha256)
        return self.has(sha256)

    def _put_document(self, sha256: str, data: bytes) -> bool:
        if self._touch(sha256):
            return False
        key = self._key(sha256)
        self._makedirs(key.rsplit("/", 1)[0])
        self.fs.pipe_file(key, data)
        return True

    def _put_file(self, path: Path) -> tuple[str, int, bool]:
        st = os.stat(path)
        cacheable = stat.S_ISREG(st.st_mode) and st.st_size > 0
        expected = None
        if cacheable:
            # hash before uploading, so that content the store has is not sent again
            expected = self.hashes.get(path.resolve(), st) or hash_file(path)
            if self._touch(expected):
                self.hashes.put(path.resolve(), st, expected)
                return expected, st.st_size, False
        tmp = f"{self.base}/incoming/{uuid.uuid4().hex}.part"
        self._makedirs(f"{self.base}/incoming")
        try:
            # the name is the hash of the bytes sent: one read feeds the upload and the hash
            with path.open("rb") as fin, self.fs.open(tmp, "wb") as fout:
                sha, size = copy_hashing(fin, fout)
            if cacheable and (sha != expected or os.stat(path).st_mtime_ns != st.st_mtime_ns):
                raise changed(path)
            key = self._key(sha)
            if self._touch(sha):
                self.fs.rm(tmp)
                added = False
            else:
                self._makedirs(key.rsplit("/", 1)[0])
                self.fs.mv(tmp, key)
                added = True
        except BaseException:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
            raise
        if cacheable:
            self.hashes.put(path.resolve(), st, sha)
        return sha, size, added

    def _open_object(self, sha256: str) -> BinaryIO:
        key = self._key(sha256)
        if not self.fs.exists(key):
            raise AssetMissing(f"object {sha256} is not in the asset store {self.url}")
        fh: BinaryIO = self.fs.open(key, "rb")
        return fh

    def objects(self) -> Iterator[tuple[str, int]]:
        root = f"{self.base}/objects"
        if not self.fs.exists(root):
            return
        for info in sorted(self.fs.find(root, detail=True).values(), key=lambda i: i["name"]):
            yield info["name"].rsplit("/", 1)[-1], int(info.get("size") or 0)

    def mtime(self, sha256: str) -> float:
        if not self.has(sha256):
            raise AssetMissing(f"object {sha256} is not in the asset store {self.url}")
        written = _seconds(self.fs.info(self._key(sha256)))
        stamp = self._path("stamps", sha256)
        if self.fs.exists(stamp):
            return max(written, _seconds(self.fs.info(stamp)))
        return written

    _clock_offset: float | None = None  # the store's clock minus this machine's

    def now(self) -> float:
        """The time on the store's clock, which the objects' ages are counted on.

        Measured once per store (opened) by writing ``URL/clock`` and reading the time the
        store gave it, so a machine whose clock is off does not make a fresh object look
        old to garbage collection. Object stores give times to the second: an age read
        here is within a second of the store's."""
        if self._clock_offset is None:
            clock = f"{self.base}/clock"
            self._makedirs(self.base)
            before = time.time()
            self.fs.pipe_file(clock, b"")
            after = time.time()
            self._clock_offset = _seconds(self.fs.info(clock)) - (before + after) / 2
        return time.time() + self._clock_offset

    def age(self, sha256: str) -> float:
        """Seconds since the object was last added, on the store's clock."""
        return self.now() - self.mtime(sha256)

    def _stamp_time(self, sha256: str) -> float:
        stamp = self._path("stamps", sha256)
        return _seconds(self.fs.info(stamp)) if self.fs.exists(stamp) else 0.0

    def remove(self, sha256: str, *, older_than: float | None = None) -> bool:
        """Remove an object and its stamp (tree records stay: they describe bytes).

        With ``older_than`` (seconds), only if it was not added in that time: the object
        is moved aside, then a stamp newer than its age puts it back (see ``_touch``)."""
        key = self._key(sha256)
        if not self.fs.exists(key):
            return False
        if older_than is None:
            self.fs.rm(key)
        else:
            age = self.mtime(sha256)
            if self.now() - age < older_than:
                return False
            aside = f"{self.base}/incoming/{uuid.uuid4().hex}.gc"
            self._makedirs(f"{self.base}/incoming")
            self.fs.mv(key, aside)
            if self._stamp_time(sha256) > age:  # added again meanwhile: put it back
                self.fs.mv(aside, key)
                return False
            self.fs.rm(aside)
        stamp = self._path("stamps", sha256)
        if self.fs.exists(stamp):
            self.fs.rm(stamp)
        return True
