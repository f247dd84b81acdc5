"""A small CG pipeline on pipl: what a studio's pipeline packl looks like.

- ``types``: asset types (their file naming) and product types;
- ``tasks``: the ``shot-animation`` task type, with its ``open-scene`` command and its
  render processing;
- ``commands`` and ``render``: the code those run.
"""
