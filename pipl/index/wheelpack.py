"""Wheels of installed pure-Python distributions, written without a build tool.

The project's base index must carry what every packl needs (``pipl-pipe`` and the
``flit_core`` build backend) even in an offline project. pipl has both installed, so it
packs them again from the installed files. The result is byte-for-byte reproducible:
sorted entries, fixed timestamps, a fresh ``WHEEL`` and ``RECORD``.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import importlib.util
import json
import re
import zipfile
from pathlib import Path

from pipl.errors import PiplError

EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_SUFFIXES = (".pyc", ".pyo")
_NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
_DIST_INFO_KEEP = ("METADATA", "entry_points.txt")


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _is_editable(dist: md.Distribution) -> bool:
    text = dist.read_text("direct_url.json")
    if not text:
        return False
    try:
        return bool(json.loads(text).get("dir_info", {}).get("editable"))
    except ValueError:
        return False


def _package_files(dist: md.Distribution, module: str) -> dict[str, Path]:
    """Archive path -> file on disk, for the importable part of ``dist``."""
    files: dict[str, Path] = {}
    if not _is_editable(dist):
        for entry in dist.files or []:
            parts = entry.parts
            if (
                parts[0].endswith(".dist-info")
                or parts[0] == ".."
                or "__pycache__" in parts
                or entry.name.endswith((*_SKIP_SUFFIXES, ".pth"))
            ):
                continue
            files[str(entry).replace("\\", "/")] = Path(str(entry.locate()))
    if not files:  # an editable install: take the package from where it is imported
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise PiplError(f"cannot find the files of {dist.metadata['Name']} (module {module})")
        root = Path(next(iter(spec.submodule_search_locations)))
        for path in root.rglob("*"):
            if (
                path.is_file()
                and "__pycache__" not in path.parts
                and not path.name.endswith(_SKIP_SUFFIXES)
            ):
                files[f"{module}/{path.relative_to(root).as_posix()}"] = path
    native = sorted(p for p in files if p.endswith(_NATIVE_SUFFIXES))
    if native:
        raise PiplError(
            f"{dist.metadata['Name']} is not pure Python ({native[0]}); "
            "it cannot be packed from its installed files"
        )
    return files


def write_wheel(
    out_dir: Path, name: str, version: str, files: dict[str, bytes], dist_info: dict[str, bytes]
) -> Path:
    """Write a reproducible ``py3-none-any`` wheel: ``files`` by archive path, plus the
    ``.dist-info`` files given (``METADATA`` at least); ``WHEEL`` and ``RECORD`` are made."""
    stem = f"{re.sub(r'[-_.]+', '_', name)}-{version}"
    info = f"{stem}.dist-info"
    entries = dict(files)
    entries.update({f"{info}/{key}": data for key, data in dist_info.items()})
    entries[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: pipl\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = [_record_line(arc, data) for arc, data in sorted(entries.items())]
    entries[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arc in sorted(entries, key=lambda a: (a.startswith(info), a)):
            item = zipfile.ZipInfo(arc, date_time=EPOCH)
            item.external_attr = 0o644 << 16
            item.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(item, entries[arc])
    return wheel


def pack_installed(dist_name: str, out_dir: Path, *, module: str | None = None) -> Path:
    """Write a ``py3-none-any`` wheel of the installed distribution ``dist_name``."""
    try:
        dist = md.distribution(dist_name)
    except md.PackageNotFoundError:
        raise PiplError(f"{dist_name} is not installed next to pipl; reinstall pipl") from None
    name, version = dist.metadata["Name"], dist.version
    module = module or name.replace("-", "_").lower()
    files = {arc: path.read_bytes() for arc, path in _package_files(dist, module).items()}
    dist_info = {}
    for meta in _DIST_INFO_KEEP:
        text = dist.read_text(meta)
        if text is not None:
            dist_info[meta] = text.encode()
    return write_wheel(out_dir, name, version, files, dist_info)
