"""Build a product packl from a folder of outputs, in one call.

Each entry of the outputs folder (a file or a folder) becomes one asset: stored by content
hash in the asset store, listed in the product's manifest with its type, size and hash,
and given an entry point. The product pins (``==``) the packls it was made from and, when
built with a client of the index, records beside each pin the sha256 of that release's
files on the index (the bytes it was made from). The result is a wheel and an sdist,
ready to publish; they carry the keyword ``pipl-product`` so the index (and asset garbage
collection) can tell products apart.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version
from pipl_pipe.assets.objects import AssetStore
from pipl_pipe.errors import PipeError
from pipl_pipe.products import (
    ASSET_GROUP,
    MANIFEST,
    PRODUCT_GROUP,
    AssetRef,
    asset_name,
    manifest_document,
)

from pipl import names
from pipl.errors import PacklError, UsageError
from pipl.fsutil import atomic_write
from pipl.packl import flit
from pipl.packl.build import dist_files
from pipl.packl.create import pipl_pipe_requirement
from pipl.packl.packl import Packl
from pipl.packl.pyproject import PyProject, user
from pipl.packl.templates import render
from pipl.uv import Uv

if TYPE_CHECKING:
    from pipl.index.client import IndexClient

KEYWORD = "pipl-product"


@dataclass(frozen=True)
class ProductSpec:
    """What to build: the product's name, type and version, and what it was made from."""

    name: str
    type: str
    version: str
    sources: list[str] = field(default_factory=list)  # exact pins, "packl==1.2.0"
    asset_types: dict[str, str] = field(default_factory=dict)  # asset name -> asset type
    description: str = ""


@dataclass(frozen=True)
class BuiltProduct:
    packl: Packl
    files: list[Path]
    assets: list[AssetRef]


def _check_spec(spec: ProductSpec) -> None:
    names.check_dist(spec.name, "product")
    try:
        Version(spec.version)
    except InvalidVersion:
        raise UsageError(
            f"product {spec.name}: {spec.version!r} is not a PEP 440 version"
        ) from None
    for pin in spec.sources:
        _split_pin(spec.name, pin)


def _split_pin(product: str, pin: str) -> tuple[str, str]:
    try:
        req = Requirement(pin)
    except InvalidRequirement:
        req = None
    specs = list(req.specifier) if req is not None else []
    if req is None or req.url or req.marker or len(specs) != 1 or specs[0].operator != "==":
        raise UsageError(f"product {product}: source {pin!r} must be an exact pin (NAME==VERSION)")
    return req.name, specs[0].version


def source_files(
    client: IndexClient, index: str, product: str, pins: list[str]
) -> dict[str, dict[str, str]]:
    """For each ``NAME==VERSION`` pin, the sha256 of its release files as ``index`` (and
    the indexes it inherits from) serves them: the files an install of the product gets."""
    found: dict[str, dict[str, str]] = {}
    for pin in sorted(pins):
        name, version = _split_pin(product, pin)
        files: dict[str, str] = {}
        for link in client.release_files(index, name, version):
            files.setdefault(link.basename, link.sha256 or "")  # the first one is installed
        if not files:
            raise PacklError(
                f"product {product} is made from {pin}, which is not on {index} (nor the "
                f"indexes it inherits from): publish {name} {version} there first"
            )
        found[pin] = dict(sorted(files.items()))
    return found


def store_outputs(outputs: Path, spec: ProductSpec, store: AssetStore) -> list[AssetRef]:
    """Put every entry of ``outputs`` in the store; return the manifest's asset list."""
    entries = sorted(p for p in Path(outputs).iterdir() if not p.name.startswith("."))
    if not entries:
        raise UsageError(f"{outputs} is empty: a product needs at least one output")
    refs: dict[str, AssetRef] = {}
    for path in entries:
        name = asset_name(path)
        if name in refs:
            raise UsageError(
                f"{path.name} and another output both make the asset name {name!r}; rename one"
            )
        # the type is recorded by name and resolved where the product is used (it is checked
        # by `python -m pipl_pipe.process`, in the environment that defines it)
        type_name = spec.asset_types.get(name) or ("folder" if path.is_dir() else "file")
        try:
            stored = store.put(path)
        except PipeError as exc:
            raise PacklError(f"product {spec.name}, asset {name}: {exc}") from None
        suffix = "".join(path.suffixes) if path.is_file() else ""
        refs[name] = AssetRef(
            spec.name, name, type_name, stored.sha256, stored.size, stored.kind, suffix
        )
    unknown = set(spec.asset_types) - set(refs)
    if unknown:
        raise UsageError(
            f"product {spec.name}: no output for asset(s) {', '.join(sorted(unknown))} in {outputs}"
        )
    return list(refs.values())


def build_product(
    outputs: Path,
    spec: ProductSpec,
    *,
    store: AssetStore,
    workdir: Path,
    index_url: str,
    uv: Uv | None = None,
    client: IndexClient | None = None,
    index: str | None = None,
) -> BuiltProduct:
    """Store the outputs, render the product packl, write its manifest, build it.

    With ``client`` (and the ``index`` the product goes to), the manifest records the
    sha256 of each source's files on that index; a source missing there is refused.
    """
    _check_spec(spec)
    pinned: dict[str, dict[str, str]] = {}
    if client is not None:
        if index is None:
            raise UsageError(f"product {spec.name}: give the index its sources are read from")
        pinned = source_files(client, index, spec.name, spec.sources)
    assets = store_outputs(outputs, spec, store)
    module = names.normalize_dist(spec.name).replace("-", "_")
    dest = Path(workdir) / f"{spec.name}-{spec.version}"
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # one line, kept as given in the metadata and the manifest (written by tomlkit and json);
    # the template's docstring and strings get a copy without quotes and backslashes
    description = " ".join((spec.description or f"The {spec.name} {spec.type} product").split())
    context = {
        "name": spec.name,
        "module": module,
        "kind": "product",
        "version": spec.version,
        "description": description.replace('"', "'").replace("\\", "/"),
        "pipl_pipe": pipl_pipe_requirement(),
        "product_type": spec.type,
        "user": user(),
        "date": "",
    }
    render("product", dest, context)
    atomic_write(
        dest / module / MANIFEST,
        manifest_document(
            spec.name,
            spec.version,
            spec.type,
            assets,
            spec.sources,
            description,
            source_files=pinned,
        ),
    )
    _write_pyproject(PyProject(dest / "pyproject.toml"), spec, module, assets, description)
    packl = Packl(dest, spec.name)
    if flit.applies(dest):  # pipl's own template: flit_core here makes the same files
        flit.build(dest, packl.dist_dir)
    else:
        (uv or Uv()).build(dest, packl.dist_dir, index_url=index_url)
    files = dist_files(packl, spec.version)
    return BuiltProduct(packl, files, assets)


def _write_pyproject(
    pp: PyProject, spec: ProductSpec, module: str, assets: list[AssetRef], description: str
) -> None:
    import tomlkit

    project = pp.project
    project["description"] = description
    project["keywords"] = [KEYWORD, spec.type]
    deps = project["dependencies"]
    for pin in sorted(spec.sources):
        deps.append(pin)
    eps = project.setdefault("entry-points", tomlkit.table(is_super_table=True))
    eps[PRODUCT_GROUP] = {spec.name: f"{module}:PRODUCT"}
    eps[ASSET_GROUP] = {
        f"{spec.name}.{a.name}": f"{module}:PRODUCT.assets.{a.name}"
        for a in sorted(assets, key=lambda a: a.name)
    }
    pp.pipl["product-type"] = spec.type
    # no edit-history entry (its time and author would change every build): the manifest
    # records what the product is made of, and the same inputs give the same files
    pp.save()
