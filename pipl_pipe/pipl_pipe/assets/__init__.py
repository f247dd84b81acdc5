"""Assets: large files and folders stored by content hash, named by their types.

``pipl_pipe.assets.store`` (``LocalStore``, ``open_store``, the ``asset_store`` service
factory), ``pipl_pipe.assets.remote`` (fsspec URLs), ``pipl_pipe.assets.types``.
"""
