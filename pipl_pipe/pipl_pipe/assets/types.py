"""Asset types: a type owns the naming convention of its files (basenames).

Register a type with the ``@asset_type`` decorator, or name it in the entry-point group
``pipl_pipe.asset_type`` (the entry point gives the class, or a module whose import
registers its classes)::

    from pipl_pipe.assets.types import AssetType, asset_type

    @asset_type
    class MayaAscii(AssetType):
        name = "maya-ascii"
        extension = "ma"

The store decides where objects live; ``filename`` decides what a fetched asset is called.
"""

from __future__ import annotations

from typing import ClassVar

from pipl_pipe.entrypoints import EntryPointIndex, default_index
from pipl_pipe.errors import AssetError

GROUP = "pipl_pipe.asset_type"
_REGISTRY: dict[str, type[AssetType]] = {}


class AssetType:
    """A kind of stored file or folder. Subclasses set ``name`` and ``extension``."""

    name: ClassVar[str] = "file"
    extension: ClassVar[str] = ""  # without the dot; "" keeps the source file's suffix
    folder: ClassVar[bool] = False

    @classmethod
    def filename(cls, product: str, asset: str, source_suffix: str = "") -> str:
        """The basename of ``asset`` of ``product`` once fetched."""
        suffix = f".{cls.extension}" if cls.extension else source_suffix
        return f"{product}.{asset}{'' if cls.folder else suffix}"


def asset_type(cls: type[AssetType]) -> type[AssetType]:
    """Class decorator: make ``cls`` known by its ``name``."""
    existing = _REGISTRY.get(cls.name)
    if (
        existing is not None
        and existing is not cls
        and (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__)
    ):
        raise AssetError(
            f"asset type name {cls.name!r} is taken by "
            f"{existing.__module__}.{existing.__qualname__}"
        )
    _REGISTRY[cls.name] = cls
    return cls


@asset_type
class File(AssetType):
    name = "file"


@asset_type
class Folder(AssetType):
    name = "folder"
    folder = True


def _load_plugins(index: EntryPointIndex) -> None:
    for plugin in index.group(GROUP):
        obj = plugin.load()
        if isinstance(obj, type) and issubclass(obj, AssetType):
            asset_type(obj)
        elif isinstance(obj, dict):  # {"name": extension}: simple types as data
            for name, ext in obj.items():
                asset_type(
                    type(str(name), (AssetType,), {"name": str(name), "extension": str(ext)})
                )


def get_asset_type(name: str, index: EntryPointIndex | None = None) -> type[AssetType]:
    if name not in _REGISTRY:
        _load_plugins(index or default_index())
    try:
        return _REGISTRY[name]
    except KeyError:
        raise AssetError(
            f"unknown asset type {name!r}: known types are "
            f"{', '.join(sorted(_REGISTRY))}; install the packl that "
            "defines it"
        ) from None


def known_types(index: EntryPointIndex | None = None) -> list[str]:
    _load_plugins(index or default_index())
    return sorted(_REGISTRY)
