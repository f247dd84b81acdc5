"""What every asset store shares: object names (sha256), results, tree documents.

A file object is named by the sha256 of its content. A folder is stored as its files plus
a *tree* object: canonical JSON listing each file's relative path, sha256, size and
executable bit, so the same folder content always gives the same tree hash.

The store records which objects are trees when it stores them (``trees/ab/abcd...``), and
says so in ``store.json`` (``pipl-store/2``). A store without it was written before kinds
were recorded: the first write records its trees (an object is one only if it is exactly a
canonical tree document of objects the store holds) and then writes ``store.json``; from
then on an object without a record is a file, whatever its bytes look like.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import queue
import shutil
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol, Self, TypeVar

from pipl_pipe.errors import AssetCorrupted, AssetError, AssetMissing

CHUNK = 8 << 20
T = TypeVar("T")
R = TypeVar("R")

TREE_FORMAT = "pipl-tree/1"
TREE_PREFIX = b'{"files":'  # canonical tree documents start so (sorted keys)
TREE_MAX = 256 << 20  # a larger object is never taken for a tree written without a record
TREE_ENTRY_KEYS = {"path", "sha256", "size", "exec"}
STORE_FORMAT = "pipl-store/2"  # kinds are recorded
STORE_INFO = "store.json"


@dataclass(frozen=True)
class Stored:
    """What ``put`` stored: the object's hash, the content size, file or tree."""

    sha256: str
    size: int
    kind: str  # "file" | "tree"
    added: bool  # False: the store had it already (its age was refreshed)


class AssetStore(Protocol):
    url: str

    def put(self, path: Path) -> Stored: ...
    def has(self, sha256: str) -> bool: ...
    def fetch(self, sha256: str, dest: Path, kind: str = "file") -> Path: ...
    def verify(self, sha256: str) -> None: ...
    def kind_of(self, sha256: str) -> str: ...
    def read_tree(self, sha256: str) -> list[dict[str, Any]]: ...
    def mtime(self, sha256: str) -> float: ...
    def age(self, sha256: str) -> float: ...
    def objects(self) -> Iterator[tuple[str, int]]: ...
    def remove(self, sha256: str, *, older_than: float | None = None) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> AssetStore: ...
    def __exit__(self, *exc: object) -> None: ...


def check_sha(sha256: str) -> str:
    if (
        not isinstance(sha256, str)
        or len(sha256) != 64
        or any(c not in "0123456789abcdef" for c in sha256)
    ):
        raise AssetError(f"{sha256!r} is not a sha256 (64 lowercase hex digits)")
    return sha256


def hash_file(path: Path) -> str:
    """sha256 of a file; large files are hashed straight from the page cache (mmap)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < CHUNK:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
            return digest.hexdigest()
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                for start in range(0, size, 8 * CHUNK):
                    digest.update(view[start : start + 8 * CHUNK])
            finally:
                view.release()
    return digest.hexdigest()


def copy_hashing(fin: BinaryIO, fout: BinaryIO) -> tuple[str, int]:
    """Copy ``fin`` to ``fout`` and return the sha256 and size of the bytes written.

    One read feeds both: every chunk is read once into memory, then hashed and written
    from that same memory, so the hash always names what was written, even when the
    source changes while it is read (or can be read only once, like a pipe). On large
    files the hash of a chunk runs beside the write of it (both release the GIL)."""
    head = fin.read(CHUNK)
    tail = fin.read(CHUNK) if head else b""
    digest = hashlib.sha256()
    if not tail:  # small: no thread
        digest.update(head)
        fout.write(head)
        return digest.hexdigest(), len(head)
    todo: queue.Queue[tuple[memoryview, bytearray | None] | None] = queue.Queue()
    free: queue.Queue[bytearray] = queue.Queue()
    for _ in range(3):
        free.put(bytearray(CHUNK))

    def hash_chunks() -> None:
        while (item := todo.get()) is not None:
            view, buffer = item
            digest.update(view)
            if buffer is not None:
                free.put(buffer)  # hashed, and already written: the reader may refill it

    hasher = threading.Thread(target=hash_chunks, name="pipl-asset-hash", daemon=True)
    hasher.start()
    size = 0
    try:
        for first in (head, tail):
            todo.put((memoryview(first), None))
            fout.write(first)
            size += len(first)
        while True:
            buffer = free.get()
            n = fin.readinto(buffer)  # type: ignore[attr-defined]  # every binary file has it
            if not n:
                free.put(buffer)
                break
            view = memoryview(buffer)[:n]
            fout.write(view)  # written before it is queued: the hasher frees the buffer
            todo.put((view, buffer))
            size += n
    finally:
        todo.put(None)
        hasher.join()
    return digest.hexdigest(), size


def tree_document(entries: list[dict[str, Any]]) -> bytes:
    """Canonical bytes of a tree object (same folder content, same hash)."""
    body = {"format": TREE_FORMAT, "files": sorted(entries, key=lambda e: str(e["path"]))}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def safe_relative(path: Any) -> bool:
    """A relative POSIX path inside its folder: no ``..``, not absolute, in canonical form."""
    if not isinstance(path, str) or not path or "\0" in path:
        return False
    pure = PurePosixPath(path)
    return not pure.is_absolute() and ".." not in pure.parts and pure.as_posix() == path


def parse_tree(data: bytes) -> list[dict[str, Any]] | None:
    """The entries of a canonical tree document, or None if ``data`` is not exactly one."""
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if not isinstance(doc, dict) or set(doc) != {"format", "files"}:
        return None
    if doc["format"] != TREE_FORMAT or not isinstance(doc["files"], list):
        return None
    for entry in doc["files"]:
        if (
            not isinstance(entry, dict)
            or set(entry) != TREE_ENTRY_KEYS
            or not safe_relative(entry["path"])
            or not isinstance(entry["sha256"], str)
            or len(entry["sha256"]) != 64
            or any(c not in "0123456789abcdef" for c in entry["sha256"])
            or type(entry["size"]) is not int
            or entry["size"] < 0
            or type(entry["exec"]) is not bool
        ):
            return None
    entries: list[dict[str, Any]] = doc["files"]
    if tree_document(entries) != data:
        return None
    return entries


def corrupted(sha256: str, url: str) -> AssetCorrupted:
    return AssetCorrupted(
        f"object {sha256} in {url} is corrupted (its content no longer hashes to its name): "
        "restore it from a backup, or remove it and add the asset again"
    )


def changed(path: Path) -> AssetError:
    return AssetError(f"{path} changed while it was being added; add it again")


def _storable_source(path: Path) -> bool:
    """A regular file, or a pipe (``pipl asset add <(command)``): read once, from start."""
    return path.is_file() or path.is_fifo()


class StoreBase:
    """Writing and reading shared by every store: the folder walk, verified copies out,
    trees and their records, verification.

    A store subclass stores one file (``_put_file``) or a small document, opens an object
    for reading, and keeps the records of tree objects; everything that reads objects goes
    through the hash check here, so no store can hand out unverified bytes.
    """

    url: str

    # -- what a store provides ----------------------------------------------------------
    def _open_object(self, sha256: str) -> BinaryIO:
        raise NotImplementedError

    def _put_file(self, path: Path) -> tuple[str, int, bool]:
        """Store one file (hashing the bytes it stores); return sha256, size, new."""
        raise NotImplementedError

    def _put_document(self, sha256: str, data: bytes) -> bool:
        """Store a small object (a tree document) unless present; True if it was new."""
        raise NotImplementedError

    def _tree_recorded(self, sha256: str) -> bool:
        raise NotImplementedError

    def _record_tree(self, sha256: str) -> None:
        raise NotImplementedError

    def _kinds_recorded(self) -> bool:
        """True once ``store.json`` says every tree has its record."""
        raise NotImplementedError

    def _write_store_info(self) -> None:
        raise NotImplementedError

    def _store_lock(self) -> contextlib.AbstractContextManager[object]:
        return contextlib.nullcontext()

    def has(self, sha256: str) -> bool:
        raise NotImplementedError

    def size_of(self, sha256: str) -> int:
        raise NotImplementedError

    def objects(self) -> Iterator[tuple[str, int]]:
        raise NotImplementedError

    def mtime(self, sha256: str) -> float:
        raise NotImplementedError

    def age(self, sha256: str) -> float:
        """Seconds since the object was last added (a store on another machine counts
        them on its own clock)."""
        return time.time() - self.mtime(sha256)

    def close(self) -> None:
        """Release what the store holds open (nothing by default)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------
    def put(self, path: Path) -> Stored:
        """Store a file (or a pipe's content), or a folder as its files plus a tree object.

        Adding an object the store has already refreshes its age, so garbage collection's
        grace period counts from the last add."""
        path = Path(path)
        self._record_kinds()
        if path.is_dir():
            return self._put_tree(path)
        if _storable_source(path):
            sha, size, added = self._put_file(path)
            return Stored(sha, size, "file", added)
        if path.exists():
            raise AssetError(f"{path}: only files and folders can be added")
        raise AssetMissing(f"{path}: no such file or folder to add")

    def _each(self, func: Callable[[T], R], items: list[T]) -> list[R]:
        """``func`` of every item, in order. One at a time here; a store whose every
        request waits on a network runs them side by side."""
        return [func(item) for item in items]

    def _put_tree(self, folder: Path) -> Stored:
        entries: list[dict[str, Any]] = []
        added = False
        total = 0
        files = sorted(p for p in folder.rglob("*") if p.is_symlink() or not p.is_dir())
        for file in files:
            if file.is_symlink():
                raise AssetError(f"{file}: symbolic links cannot be stored in an asset folder")
            if not file.is_file():
                raise AssetError(f"{file}: only files and folders can be stored in an asset")
        for file, (sha, size, new) in zip(files, self._each(self._put_file, files), strict=True):
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
        self._record_tree(tree_sha)  # recorded first: the object is never seen unrecorded
        added |= self._put_document(tree_sha, document)
        return Stored(tree_sha, total, "tree", added)

    _kinds_known = False  # store.json was seen: it is never taken back

    def _kinds_are_recorded(self) -> bool:
        if not self._kinds_known:
            self._kinds_known = self._kinds_recorded()
        return self._kinds_known

    def _record_kinds(self) -> None:
        """Before the first write to a store made before kinds were recorded: record its
        trees, then say so in ``store.json`` (once; concurrent writers wait)."""
        if self._kinds_are_recorded():
            return
        with self._store_lock():
            if self._kinds_are_recorded():
                return
            for sha, _ in list(self.objects()):
                if not self._tree_recorded(sha) and self._unrecorded_tree(sha):
                    self._record_tree(sha)
            self._write_store_info()
            self._kinds_known = True

    # -- reading ------------------------------------------------------------------------
    def kind_of(self, sha256: str) -> str:
        """``tree`` for a folder object, else ``file``, as the store recorded it."""
        if not self.has(sha256):
            raise AssetMissing(f"object {sha256} is not in the asset store {self.url}")
        if self._tree_recorded(sha256):
            return "tree"
        if self._kinds_are_recorded():
            return "file"
        # a store nothing has written to since kinds were recorded: what its first write
        # will record
        return "tree" if self._unrecorded_tree(sha256) else "file"

    def _unrecorded_tree(self, sha256: str) -> bool:
        """A tree stored before kinds were recorded: exactly a canonical tree document,
        whose files are all in the store."""
        if self.size_of(sha256) > TREE_MAX:
            return False
        with self._open_object(sha256) as fh:
            if fh.read(len(TREE_PREFIX)) != TREE_PREFIX:
                return False
            data = TREE_PREFIX + fh.read()
        if hashlib.sha256(data).hexdigest() != sha256:
            return False
        entries = parse_tree(data)
        return entries is not None and all(self.has(e["sha256"]) for e in entries)

    def read_tree(self, sha256: str) -> list[dict[str, Any]]:
        with self._open_object(sha256) as fh:
            data = fh.read()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise corrupted(sha256, self.url)
        entries = parse_tree(data)
        if entries is None:
            raise AssetError(f"object {sha256} in {self.url} is not a folder (tree) object")
        return entries

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
        if kind not in ("file", "tree"):
            raise AssetError(f"unknown object kind {kind!r} (file or tree)")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        try:
            if kind == "tree":
                entries = self.read_tree(sha256)
                for entry in entries:
                    (staging / entry["path"]).parent.mkdir(parents=True, exist_ok=True)
                self._each(lambda e: self._copy_out(e["sha256"], staging / e["path"]), entries)
                for entry in entries:
                    if entry["exec"]:
                        (staging / entry["path"]).chmod(0o755)
                staging.mkdir(exist_ok=True)  # an empty folder is a tree too
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
        with self._open_object(sha256) as fin, target.open("wb") as fout:
            got, _ = copy_hashing(fin, fout)
        if got != sha256:
            target.unlink(missing_ok=True)
            raise corrupted(sha256, self.url)
        target.chmod(0o644)
