"""Products: packls that reference assets by content hash and pin their sources.

A product packl carries ``pipl_manifest.json`` next to its module::

    {"format": "pipl-product/2", "name": "chair-rig", "version": "1.0.0", "type": "rig",
     "sources": ["chair-model==1.0.0", "rigging-task==0.3.0"],
     "source_files": {"chair-model==1.0.0": {"chair_model-1.0.0-py3-none-any.whl": "..."},
                      "rigging-task==0.3.0": {...}},
     "assets": [{"name": "scene", "type": "maya-ascii", "sha256": "...", "size": 1234,
                 "kind": "file", "suffix": ".ma"}]}

``source_files`` holds, for each pinned source, the sha256 of the release files it was
built from (as the index served them), so provenance holds down to the bytes. Format 1
(no ``source_files``) still reads.

and entry points: ``pipl_pipe.product`` (the ``Product``) and one ``pipl_pipe.asset`` per
asset (``chair-rig.scene = chair_rig:PRODUCT.assets.scene``), so tools can act on every
asset of an environment.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pipl_pipe.entrypoints import EntryPointIndex, Plugin, default_index, normalize
from pipl_pipe.errors import AssetError, ManifestError

MANIFEST = "pipl_manifest.json"
FORMAT = "pipl-product/2"
FORMATS = ("pipl-product/1", FORMAT)  # every format this version reads
PRODUCT_GROUP = "pipl_pipe.product"
ASSET_GROUP = "pipl_pipe.asset"
PRODUCT_TYPE_GROUP = "pipl_pipe.product_type"
ASSET_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def asset_name(path: Path) -> str:
    """The asset name an output file or folder gets: ``Chair-Rig.v2.ma`` -> ``chair_rig``."""
    stem = path.name.split(".")[0] if path.is_file() else path.name
    name = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"a_{name}"
    return name[:63]


@dataclass(frozen=True)
class AssetRef:
    """One asset of a product: what it is and which stored object holds it."""

    product: str
    name: str
    type: str
    sha256: str
    size: int
    kind: str = "file"
    suffix: str = ""

    @property
    def filename(self) -> str:
        from pipl_pipe.assets.types import get_asset_type

        return get_asset_type(self.type).filename(self.product, self.name, self.suffix)

    def local_path(self, workspace: Path | None = None) -> Path:
        """Where this asset goes in a workspace: ``WS/assets/PRODUCT/FILENAME``."""
        base = workspace or _workspace_root()
        return base / "assets" / self.product / self.filename

    def fetch(self, workspace: Path | None = None, store: Any = None) -> Path:
        """The asset as a local file or folder, copied from the store (verified) on first
        use; later calls find it in place and do not touch the store."""
        target = self.local_path(workspace)
        marker = target.parent / f".{target.name}.sha256"
        if target.exists() and marker.is_file() and marker.read_text().strip() == self.sha256:
            return target
        if store is None:
            from pipl_pipe.services import get_services

            store = get_services().asset_store
        store.fetch(self.sha256, target, self.kind)
        marker.write_text(self.sha256 + "\n")
        return target

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "sha256": self.sha256,
            "size": self.size,
            "kind": self.kind,
            "suffix": self.suffix,
        }


def _workspace_root() -> Path:
    if os.environ.get("PIPL_WORKSPACE"):
        return Path(os.environ["PIPL_WORKSPACE"])
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pipl-workspace.toml").is_file():
            return folder
    return here


class AssetSet:
    """A product's assets by name: ``assets["scene"]`` or ``assets.scene``."""

    def __init__(self, assets: list[AssetRef]) -> None:
        self._by_name = {a.name: a for a in assets}

    def __getitem__(self, name: str) -> AssetRef:
        try:
            return self._by_name[name]
        except KeyError:
            product = next(iter(self._by_name.values())).product if self._by_name else "?"
            raise AssetError(
                f"product {product} has no asset {name!r} (it has: "
                f"{', '.join(self._by_name) or 'none'})"
            ) from None

    def __getattr__(self, name: str) -> AssetRef:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __iter__(self) -> Iterator[AssetRef]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def names(self) -> list[str]:
        return list(self._by_name)


@dataclass(frozen=True)
class Product:
    name: str
    version: str
    type: str
    assets: AssetSet
    sources: list[str] = field(default_factory=list)
    description: str = ""
    # pin -> {release file name: sha256} of the files it was built from
    source_files: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_manifest(cls, data: Any, where: str) -> Product:
        try:
            if not isinstance(data, dict) or data.get("format") not in FORMATS:
                raise ValueError(f"format is not one of {', '.join(FORMATS)}")
            assets = [
                AssetRef(
                    product=data["name"],
                    name=a["name"],
                    type=a["type"],
                    sha256=a["sha256"],
                    size=int(a["size"]),
                    kind=a.get("kind", "file"),
                    suffix=a.get("suffix", ""),
                )
                for a in data["assets"]
            ]
            return cls(
                name=data["name"],
                version=data["version"],
                type=data["type"],
                assets=AssetSet(assets),
                sources=list(data.get("sources", [])),
                description=data.get("description", ""),
                source_files=_source_files(data.get("source_files", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(
                f"the product manifest of {where} does not parse: {type(exc).__name__}: {exc}"
            ) from None

    @classmethod
    def from_package(cls, module: str) -> Product:
        """The product described by the manifest shipped in package ``module``."""
        try:
            text = importlib.resources.files(module).joinpath(MANIFEST).read_text()
        except (FileNotFoundError, ModuleNotFoundError) as exc:
            raise ManifestError(f"package {module} has no {MANIFEST}: {exc}") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ManifestError(f"{MANIFEST} of {module} is not JSON: {exc}") from None
        return cls.from_manifest(data, f"package {module}")

    def dependencies(
        self, type: str | None = None, index: EntryPointIndex | None = None
    ) -> list[Product]:
        """Installed products this one was made from, optionally of one product type."""
        return products_required_by(self.name, type=type, index=index)


def _source_files(value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict) or not all(
        isinstance(files, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
        for files in value.values()
    ):
        raise ValueError("source_files must map each source to {file name: sha256}")
    return {str(pin): dict(files) for pin, files in value.items()}


def _product_plugins(index: EntryPointIndex) -> dict[str, Plugin]:
    return {normalize(p.dist): p for p in index.group(PRODUCT_GROUP)}


def _load(plugin: Plugin) -> Product:
    obj = plugin.load()
    if not isinstance(obj, Product):
        raise ManifestError(f"entry point {plugin} does not give a Product")
    return obj


def get_product(name: str, index: EntryPointIndex | None = None) -> Product:
    """The installed product ``name`` (only its own module is imported)."""
    plugin = _product_plugins(index or default_index()).get(normalize(name))
    if plugin is None:
        raise ManifestError(f"no product {name!r} is installed in this environment")
    return _load(plugin)


def installed_products(index: EntryPointIndex | None = None) -> dict[str, Product]:
    """Every product in the environment, by normalized name."""
    return {key: _load(p) for key, p in _product_plugins(index or default_index()).items()}


def requirement_names(requires: list[str]) -> list[str]:
    """Normalized names of ``Requires-Dist`` lines (extras' requirements left out)."""
    names = []
    for text in requires:
        if "extra ==" in text.replace("'", '"').replace('"', " "):
            continue
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text)
        if match:
            names.append(normalize(match.group(1)))
    return names


def products_required_by(
    dist_name: str, *, type: str | None = None, index: EntryPointIndex | None = None
) -> list[Product]:
    """Typed dependency query: the products ``dist_name`` requires (directly), by type.

    Only the modules of those products are imported."""
    index = index or default_index()
    plugins = _product_plugins(index)
    found = [
        _load(plugins[n]) for n in requirement_names(index.requires(dist_name)) if n in plugins
    ]
    return [p for p in found if type is None or p.type == type]


class ProductType:
    """A kind of product (model, rig, render...): list subclasses in the entry-point group
    ``pipl_pipe.product_type``; a product names its type in its manifest."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""


def product_types(index: EntryPointIndex | None = None) -> dict[str, Any]:
    """Product types declared by packls (``pipl_pipe.product_type``): name -> object."""
    return {p.name: p.load() for p in (index or default_index()).group(PRODUCT_TYPE_GROUP)}


def manifest_document(
    name: str,
    version: str,
    type: str,
    assets: list[AssetRef],
    sources: list[str],
    description: str = "",
    source_files: dict[str, dict[str, str]] | None = None,
) -> str:
    """The manifest text a product packl ships (stable key order)."""
    for asset in assets:
        if not ASSET_NAME.match(asset.name):
            raise ManifestError(
                f"asset name {asset.name!r} of {name}: use lowercase letters, "
                "digits and '_', starting with a letter"
            )
    data = {
        "format": FORMAT,
        "name": name,
        "version": version,
        "type": type,
        "description": description,
        "sources": sorted(sources),
        "source_files": {pin: dict(sorted(f.items())) for pin, f in (source_files or {}).items()},
        "assets": [a.to_dict() for a in sorted(assets, key=lambda a: a.name)],
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def fetch_all(
    workspace: Path | None = None, index: EntryPointIndex | None = None, store: Any = None
) -> list[tuple[AssetRef, Path]]:
    """Fetch every asset of every installed product (for offline work in a workspace)."""
    fetched = []
    for product in installed_products(index).values():
        for asset in product.assets:
            fetched.append((asset, asset.fetch(workspace, store)))
    return fetched


def main(argv: list[str] | None = None) -> int:
    """``python -m pipl_pipe.products list|fetch [--json]``."""
    import sys

    from pipl_pipe.errors import PipeError

    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in ("list", "fetch"):
        print("usage: python -m pipl_pipe.products list|fetch [--json]", file=sys.stderr)
        return 2
    try:
        if args[0] == "fetch":
            rows = [
                {
                    "product": a.product,
                    "asset": a.name,
                    "sha256": a.sha256,
                    "size": a.size,
                    "path": str(path),
                }
                for a, path in fetch_all()
            ]
        else:
            rows = [
                {
                    "product": p.name,
                    "version": p.version,
                    "type": p.type,
                    "assets": [a.to_dict() for a in p.assets],
                    "sources": p.sources,
                    "source_files": p.source_files,
                }
                for p in installed_products().values()
            ]
    except PipeError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    if "--json" in args:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(
                " ".join(
                    f"{k}={v}"
                    for k, v in row.items()
                    if k not in ("assets", "sources", "source_files")
                )
            )
    return 0


if __name__ == "__main__":
    # run the imported module, not this __main__ copy, so that classes packls subclass
    # (and isinstance checks) are the same objects
    from pipl_pipe.products import main as _main

    raise SystemExit(_main())
