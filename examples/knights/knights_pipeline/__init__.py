"""Pipelet's tutorial: every knight gets every quality (melt), then a summary.

``melt_brave`` has no script of its own: it falls back to ``segments/melt.py`` (same root)
and keeps only the brave ones through the ``where`` declared below. ``by_knight`` groups
the product by knight (``group_by`` in its script's ``#multiplex`` comment).
"""

PIPELINE = """
knights -> melt -> summary;
quality -> melt;
knights -> melt_brave;
quality -> melt_brave;
knights -> by_knight;
quality -> by_knight;
"""

SEGMENTS = {
    "melt_brave": {"multiplex": "cross_prod where \"quality == 'the Brave'\""},
}

PUSH = {"knights": ["Lancelot", "Galahad"]}
