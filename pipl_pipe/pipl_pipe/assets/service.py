"""Opening an asset store from a URL or the ``asset_store`` config.

A folder path or ``file://`` URL gives a ``LocalStore``; ``s3://`` an ``S3Store`` (extra
``s3``); any other URL an ``FsspecStore`` (extra ``fsspec``). ``from_config`` is the
factory of the built-in ``asset_store`` service.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pipl_pipe.assets.objects import AssetStore
from pipl_pipe.errors import AssetError

# config asset_store defaults (pipl.toml [config.asset_store] overrides them):
# url: folder or fsspec URL (default PROJECT/assets); durable: fsync objects before use
DEFAULTS: dict[str, Any] = {"durable": True}


def open_store(url: str | os.PathLike[str], **kwargs: Any) -> AssetStore:
    """A store for a folder path / ``file://`` URL, or any fsspec URL (extra ``fsspec``)."""
    text = str(url)
    if "://" not in text or text.startswith("file://"):
        from pipl_pipe.assets.store import LocalStore

        return LocalStore(Path(text.removeprefix("file://")), **kwargs)
    from pipl_pipe.assets.s3 import PROTOCOLS, S3Store

    if text.split("://", 1)[0] in PROTOCOLS:
        return S3Store(text, **kwargs)
    from pipl_pipe.assets.remote import FsspecStore

    return FsspecStore(text, **kwargs)


# words that name a secret: pipl.toml is shared with everyone who has the project
SECRET_WORDS = ("key", "secret", "token", "password", "credential")


def check_no_secrets(config: dict[str, Any]) -> None:
    """Refuse credentials in ``[config.asset_store]``: they belong in the environment."""
    for name in config:
        if any(word in name.lower() for word in SECRET_WORDS):
            raise AssetError(
                f"[config.asset_store] {name}: credentials are not read from pipl.toml, which "
                "everyone with the project can read; remove it and set them in the "
                "environment (for S3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                "AWS_PROFILE)"
            )


def from_config(config: dict[str, Any]) -> AssetStore:
    """The ``asset_store`` service factory: ``url`` from config, else ``PROJECT/assets``."""
    check_no_secrets(config)
    url = os.environ.get("PIPL_ASSET_STORE") or config.get("url")
    if not url:
        root = config.get("project_root")
        if not root:
            raise AssetError(
                "no asset store: set [config.asset_store] url in pipl.toml, "
                "PIPL_ASSET_STORE, or work inside a pipl project (PIPL_PROJECT)"
            )
        url = str(Path(root) / "assets")
    elif "://" not in str(url) and config.get("project_root"):
        url = str(Path(config["project_root"]) / url)  # relative to the project
    return open_store(url, durable=bool(config.get("durable", True)))
