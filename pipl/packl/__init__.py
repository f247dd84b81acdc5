"""Packls: packages generated from templates, edited in workspaces, published to stages.

Public surface: ``pipl.packl.packl`` (``Packl``, ``find_packl``, ``list_packls``),
``pipl.packl.create.create_packl``, ``pipl.packl.deps`` (``add``, ``remove``),
``pipl.packl.version.bump``, ``pipl.packl.build`` (``build``, ``publish``).
"""
