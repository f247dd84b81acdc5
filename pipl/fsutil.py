"""Small file-system helpers: atomic writes and file locks (shared with pipl-pipe) and
private files."""

from __future__ import annotations

from pathlib import Path

from pipl_pipe.fsutil import atomic_write, locked

__all__ = ["atomic_write", "locked", "private_dir", "write_private"]


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_private(path: Path, data: str | bytes) -> None:
    """Atomically write a secret: the file is 0600 from its first byte."""
    atomic_write(path, data, mode=0o600)
