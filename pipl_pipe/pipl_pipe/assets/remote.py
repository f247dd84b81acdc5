"""An asset store on any fsspec file system (S3, GCS, SFTP, memory...): extra ``fsspec``.

Same layout and guarantees as ``LocalStore``: objects named by sha256 under
``URL/objects/ab/``, uploads land under a temporary name first, downloads are verified.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from pipl_pipe.assets.hashcache import HashCache
from pipl_pipe.assets.objects import (
    StoreBase,
    check_sha,
    hash_file,
)
from pipl_pipe.errors import AssetError, AssetMissing


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

    def _key(self, sha256: str) -> str:
        check_sha(sha256)
        return f"{self.base}/objects/{sha256[:2]}/{sha256}"

    def has(self, sha256: str) -> bool:
        return bool(self.fs.exists(self._key(sha256)))

    def _upload(self, local: Path, sha256: str) -> bool:
        key = self._key(sha256)
        if self.fs.exists(key):
            return False
        tmp = f"{self.base}/incoming/{uuid.uuid4().hex}.part"
        self.fs.makedirs(f"{self.base}/incoming", exist_ok=True)
        self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
        self.fs.put_file(str(local), tmp)
        self.fs.mv(tmp, key)
        return True

    def _put_document(self, sha256: str, data: bytes) -> bool:
        if self.has(sha256):
            return False
        key = self._key(sha256)
        self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
        self.fs.pipe_file(key, data)
        return True

    def _put_file(self, path: Path) -> tuple[str, int, bool]:
        st = path.stat()
        sha = self.hashes.get(path.resolve(), st) or hash_file(path)
        self.hashes.put(path.resolve(), st, sha)
        return sha, st.st_size, self._upload(path, sha)

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
        info = self.fs.info(self._key(sha256))
        value = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
        return float(value.timestamp() if hasattr(value, "timestamp") else value)

    def remove(self, sha256: str) -> None:
        key = self._key(sha256)
        if self.fs.exists(key):
            self.fs.rm(key)
