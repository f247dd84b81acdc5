"""Assets: large files and folders stored by content hash, named by their types.

``objects`` (what every store shares), ``store`` (``LocalStore``), ``remote`` (fsspec
URLs), ``service`` (``open_store`` and the ``asset_store`` service factory), ``serve``
(the environment's store, served to another process), ``types``.
"""
