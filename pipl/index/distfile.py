"""Reading name, version and core metadata out of a wheel or an sdist, without installing."""

from __future__ import annotations

import email.parser
import hashlib
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipl.errors import UsageError

SDIST_SUFFIXES = (".tar.gz", ".zip")


@dataclass(frozen=True)
class DistFile:
    """A release file ready to upload: where it is, its sha256 and its metadata."""

    path: Path
    name: str
    version: str
    sha256: str
    metadata: dict[str, list[str]]

    @property
    def filename(self) -> str:
        return self.path.name

    def form_fields(self) -> list[tuple[str, str]]:
        """The metadata as the multipart fields of a legacy ``file_upload``."""
        fields = [("name", self.name), ("version", self.version)]
        keys = {
            "Summary": "summary",
            "Requires-Python": "requires_python",
            "Requires-Dist": "requires_dist",
            "Home-page": "home_page",
            "Author": "author",
            "License": "license",
            "Keywords": "keywords",
            "Metadata-Version": "metadata_version",
        }
        for header, field in keys.items():
            for value in self.metadata.get(header, []):
                fields.append((field, value))
        return fields


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_distfile(path: Path) -> DistFile:
    """Inspect a ``.whl`` or sdist and return what an upload needs."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if not path.is_file():
        raise UsageError(f"{path} is not a file: give a wheel (.whl) or an sdist (.tar.gz)")
    try:
        if path.name.endswith(".whl"):
            raw = _wheel_metadata(path)
        elif path.name.endswith(SDIST_SUFFIXES):
            raw = _sdist_metadata(path)
        else:
            raise UsageError(f"{path.name}: not a wheel (.whl) or an sdist (.tar.gz, .zip)")
    except (zipfile.BadZipFile, tarfile.TarError, OSError, KeyError) as exc:
        raise UsageError(f"{path.name}: cannot read package metadata ({exc})") from None
    message = email.parser.Parser().parsestr(raw)
    metadata: dict[str, list[str]] = {}
    for key, value in message.items():
        metadata.setdefault(key, []).append(str(value))
    name, version = message.get("Name"), message.get("Version")
    if not name or not version:
        raise UsageError(f"{path.name}: metadata has no Name or Version")
    return DistFile(path, str(name), str(version), sha256_of(path), metadata)


def _wheel_metadata(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            parts = info.filename.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                return zf.read(info).decode()
    raise KeyError("no .dist-info/METADATA in the wheel")


def _sdist_metadata(path: Path) -> str:
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if name.count("/") == 1 and name.endswith("/PKG-INFO"):
                    return zf.read(name).decode()
        raise KeyError("no PKG-INFO in the sdist")
    with tarfile.open(path, "r:gz") as tf:
        for member in tf.getmembers():
            if member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                fh = tf.extractfile(member)
                if fh is not None:
                    return fh.read().decode()
    raise KeyError("no PKG-INFO in the sdist")
