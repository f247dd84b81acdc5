"""The asset store on S3 (or any S3 API: MinIO, Ceph, moto...): extra ``s3``.

``s3://bucket/prefix`` has the layout of every store (``objects/ab/abcd...``, tree records,
stamps), and writes the S3 way:

- **Written once, to the final key.** The hash of a file is known before it is sent (from
  the hash cache, or read once); the upload streams to ``objects/ab/<sha256>`` and hashes
  what it sends. An object appears on S3 only when its upload completes (one PUT, or the
  completion of a multipart upload), so the upload is checked before that: bytes that do
  not hash to the key (the file changed while it was sent) abort it and nothing appears.
  There is no temporary key, so no copy and no delete. A pipe's content, whose hash is
  known only at its end, is spooled to a local temporary file first.
- **Conditional create.** The write carries ``If-None-Match: *``: S3 refuses it (412) if
  the key exists when the upload completes, so an object is never rewritten and, of two
  writers of the same new content, exactly one reports it as added; the other refreshes
  its age as for any re-add. This is S3's guarantee since 2024 (and moto's, MinIO's); a
  service that ignores the header overwrites the key with the same bytes, which is
  harmless.
- **Ages on the store's clock.** Garbage collection's grace counts from the objects'
  ``LastModified`` (and their stamps'), compared with the store's time (see
  ``FsspecStore.now``), never with this machine's clock.
- **A folder's files side by side**: 16 uploads (or downloads) at a time, since each
  request mostly waits on the network.
- **Credentials from the environment** (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
  ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``; ``AWS_ENDPOINT_URL_S3`` for a service other than
  AWS), as every AWS tool reads them; never from ``pipl.toml``.

A multipart upload cut short by a killed process leaves parts that no key shows; a bucket
lifecycle rule ``AbortIncompleteMultipartUpload`` removes them.
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from pipl_pipe.assets.hashcache import HashCache
from pipl_pipe.assets.objects import STORE_INFO, R, T, changed, copy_hashing, hash_file
from pipl_pipe.assets.remote import FsspecStore
from pipl_pipe.errors import AssetError, AssetMissing

PROTOCOLS = ("s3", "s3a")
COMPLETE_TIMEOUT = 600  # seconds to wait for an answer (botocore's default: 60)
CREDENTIALS = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment"


def check_credentials(url: str) -> None:
    """Fail with what to do when no AWS credentials can be found (botocore's own chain:
    the environment, ``~/.aws``, an instance role), before any request is made."""
    import botocore.session

    if botocore.session.get_session().get_credentials() is None:
        raise AssetError(f"no credentials for the asset store {url}: {CREDENTIALS}")


class S3Store(FsspecStore):
    """An asset store in an S3 bucket, written with conditional creates (see the module)."""

    part_size = 64 << 20  # bytes of a multipart upload's part (the larger files' uploads)
    requests = 16  # a folder's files sent (or fetched) side by side

    def __init__(self, url: str, *, hashes: HashCache | None = None, durable: bool = True) -> None:
        if "@" in url.split("://", 1)[-1].split("/", 1)[0]:
            raise AssetError(
                f"the asset store URL {url.split('@')[-1]} must not carry credentials: "
                f"{CREDENTIALS}"
            )
        check_credentials(url)
        # no cached listings: other machines write to the same bucket. S3 may take
        # minutes to complete a large multipart upload: wait for its answer that long
        super().__init__(
            url,
            hashes=hashes,
            durable=durable,
            skip_instance_cache=True,
            use_listings_cache=False,
            config_kwargs={"read_timeout": COMPLETE_TIMEOUT},
        )
        self.bucket = self.base.split("/", 1)[0]

    def _no_bucket(self) -> AssetError:
        return AssetError(
            f"the bucket {self.bucket} of the asset store {self.url} does not exist, or "
            "these credentials cannot see it: create it, or fix the URL"
        )

    def _write_store_info(self) -> None:
        try:
            super()._write_store_info()
        except FileNotFoundError:
            raise self._no_bucket() from None

    def _makedirs(self, path: str) -> None:
        """Nothing to make: S3 keys have no folders."""

    def _each(self, func: Callable[[T], R], items: list[T]) -> list[R]:
        """Every request waits on the network: a folder's files go side by side."""
        if len(items) < 2:
            return [func(item) for item in items]
        with ThreadPoolExecutor(self.requests, thread_name_prefix="pipl-s3") as pool:
            return list(pool.map(func, items))

    def _head(self, path: str) -> dict[str, Any] | None:
        """An object's details (one HEAD request), or None if there is no such key."""
        bucket, _, key = path.partition("/")
        try:
            head: dict[str, Any] = self.fs.call_s3("head_object", Bucket=bucket, Key=key)
        except FileNotFoundError:
            return None
        return head

    def has(self, sha256: str) -> bool:
        return self._head(self._key(sha256)) is not None

    def size_of(self, sha256: str) -> int:
        head = self._head(self._key(sha256))
        if head is None:
            raise AssetMissing(f"object {sha256} is not in the asset store {self.url}")
        return int(head["ContentLength"])

    def _kinds_recorded(self) -> bool:
        return self._head(f"{self.base}/{STORE_INFO}") is not None

    def _tree_recorded(self, sha256: str) -> bool:
        return self._head(self._path("trees", sha256)) is not None

    def _stamp_time(self, sha256: str) -> float:
        head = self._head(self._path("stamps", sha256))
        return head["LastModified"].timestamp() if head else 0.0

    def mtime(self, sha256: str) -> float:
        head = self._head(self._key(sha256))
        if head is None:
            raise AssetMissing(f"object {sha256} is not in the asset store {self.url}")
        return max(float(head["LastModified"].timestamp()), self._stamp_time(sha256))

    def objects(self) -> Iterator[tuple[str, int]]:
        try:
            found = self.fs.find(f"{self.base}/objects", detail=True)
        except FileNotFoundError:
            raise self._no_bucket() from None
        for info in sorted(found.values(), key=lambda i: i["name"]):
            yield info["name"].rsplit("/", 1)[-1], int(info.get("size") or 0)

    def _open_object(self, sha256: str) -> BinaryIO:
        try:
            fh: BinaryIO = self.fs.open(self._key(sha256), "rb")
        except FileNotFoundError:
            raise AssetMissing(f"object {sha256} is not in the asset store {self.url}") from None
        return fh

    # -- writing ------------------------------------------------------------------------
    def _put_document(self, sha256: str, data: bytes) -> bool:
        if self._touch(sha256):
            return False
        return self._create(sha256, lambda out: copy_hashing(io.BytesIO(data), out)[0])

    def _put_file(self, path: Path) -> tuple[str, int, bool]:
        st = os.stat(path)
        if not (stat.S_ISREG(st.st_mode) and st.st_size > 0):
            return self._put_stream(path)
        # hash first: content the store has is not sent again, and the key is known
        expected = self.hashes.get(path.resolve(), st) or hash_file(path)

        def send(out: BinaryIO) -> str:
            with path.open("rb") as fin:
                sha, _ = copy_hashing(fin, out)
            if sha != expected or os.stat(path).st_mtime_ns != st.st_mtime_ns:
                raise changed(path)
            return sha

        added = False if self._touch(expected) else self._create(expected, send)
        self.hashes.put(path.resolve(), st, expected)
        return expected, st.st_size, added

    def _put_stream(self, path: Path) -> tuple[str, int, bool]:
        """A pipe (or a file whose stat tells nothing): read once into a local spool,
        which names the object, then sent from there."""
        with tempfile.TemporaryFile(prefix="pipl-asset-") as spool:
            with path.open("rb") as fin:
                sha, size = copy_hashing(fin, spool)

            def send(out: BinaryIO) -> str:
                spool.seek(0)
                return copy_hashing(spool, out)[0]

            added = False if self._touch(sha) else self._create(sha, send)
        return sha, size, added

    def _create(self, sha256: str, send: Any) -> bool:
        """Upload an object to its final key unless the key exists; True if this call
        made it. ``send(out)`` writes the content to ``out`` and returns the sha256 of
        what it wrote (or raises): the upload completes only if that is ``sha256``.

        If another writer made the key first, the object's age is refreshed instead; if
        it vanished again meanwhile (garbage collection), the upload is tried again."""
        key = self._key(sha256)
        for _ in range(3):
            # "x": If-None-Match: * on the PUT, or on the multipart upload's completion
            out = self.fs.open(key, "xb", block_size=self.part_size)
            try:
                sent = send(out)
                if sent != sha256:
                    raise AssetError(f"the bytes sent for {sha256} hash to {sent}; add it again")
            except BaseException as exc:
                out.discard()  # aborts the multipart upload: nothing appears
                out.closed = True
                if isinstance(exc, FileNotFoundError):  # when a multipart upload begins
                    raise self._no_bucket() from None
                raise
            try:
                out.close()
            except FileExistsError:  # another writer completed it first
                out.discard()
                if self._touch(sha256):
                    return False
                continue
            except FileNotFoundError:
                raise self._no_bucket() from None
            return True
        raise AssetError(
            f"object {sha256} kept vanishing from {self.url} while it was added "
            "(is a garbage collection with no grace period running?); add it again"
        )
