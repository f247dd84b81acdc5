"""Atomic file writes (readers see the old file or the new one, never half of it) and
file locks around read-modify-write cycles."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pipl_pipe.errors import PipeError

# how long a command waits for another one holding the same file
LOCK_TIMEOUT = 60.0


class LockTimeout(PipeError):
    """Another process held a file's lock for too long, or the lock file is not writable."""


def atomic_write(path: Path, data: str | bytes, *, mode: int = 0o644) -> None:
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def locked(path: Path, *, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (through ``path.lock`` beside it) for a
    read-modify-write. Waits up to ``timeout`` seconds for another process to finish."""
    from filelock import FileLock, Timeout

    path = Path(path)
    lockfile = path.with_name(path.name + ".lock")
    try:
        with FileLock(lockfile, timeout=timeout):
            yield
    except Timeout:
        raise LockTimeout(
            f"{path} is locked by another pipl command (waited {timeout:.0f}s for "
            f"{lockfile}): wait for it to finish, then try again"
        ) from None
    except PermissionError:
        raise LockTimeout(
            f"cannot lock {path}: no write permission on {lockfile} "
            "(ask the project's owner for group write access)"
        ) from None
