"""A product's manifest read out of one of its release files (a wheel or an sdist).

The release catalog (``pipl.index.catalog``) keeps the manifests of the products on the
stages; the asset store's garbage collection (``pipl.assets.gc``) reads them to know which
objects are referenced. Both read them here.
"""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from pipl_pipe.errors import ManifestError
from pipl_pipe.products import FORMATS, MANIFEST, Product

from pipl.errors import FrameworkError

PRODUCT_KEYWORD = "pipl-product"
MANIFEST_MAX = 16 << 20


def is_product(data: dict[str, Any]) -> bool:
    """Whether devpi's metadata of a release marks it a product (keyword ``pipl-product``)."""
    keywords = data.get("keywords") or ""
    if isinstance(keywords, list):
        keywords = " ".join(map(str, keywords))
    return PRODUCT_KEYWORD in str(keywords).replace(",", " ").split()


def manifest_bytes(path: Path) -> bytes | None:
    """The manifest shipped at package level in a wheel (``module/``) or an sdist
    (``name-version/module/`` or ``name-version/src/module/``)."""
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename.count("/") == 1 and info.filename.endswith("/" + MANIFEST):
                    return zf.read(info) if info.file_size <= MANIFEST_MAX else b""
        return None
    with tarfile.open(path) as tf:
        for member in tf.getmembers():
            parts = member.name.split("/")
            if parts[-1] == MANIFEST and member.isfile() and len(parts) in (3, 4):
                if len(parts) == 4 and parts[1] != "src":
                    continue
                handle = tf.extractfile(member)
                if handle is None or member.size > MANIFEST_MAX:
                    return b""
                return handle.read()
    return None


def read_manifest(path: Path, where: str) -> Product:
    """The product a wheel or sdist describes; ``FrameworkError`` naming ``where`` if its
    manifest is missing, unreadable, or of a format this pipl does not know."""
    try:
        raw = manifest_bytes(path)
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise FrameworkError(f"{where}: {path.name} cannot be read ({exc})") from None
    if raw is None:
        raise FrameworkError(
            f"{where} is marked {PRODUCT_KEYWORD} but {path.name} has no {MANIFEST}: its "
            "assets are unknown"
        )
    try:
        data: Any = json.loads(raw)
    except ValueError:
        data = None
    fmt = data.get("format") if isinstance(data, dict) else None
    if isinstance(data, dict) and fmt not in FORMATS:
        raise FrameworkError(
            f"{where} has a product manifest of format {fmt!r}, which this pipl does not "
            f"know (it reads {', '.join(FORMATS)}); upgrade pipl to read it"
        )
    try:
        return Product.from_manifest(data, where)
    except ManifestError as exc:
        raise FrameworkError(str(exc)) from None
