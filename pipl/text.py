"""Short text for tables, logs and stored messages: cut at a word, never inside one."""

from __future__ import annotations

ELLIPSIS = "…"


def shorten(text: str, width: int) -> str:
    """``text`` if it fits in ``width`` characters; else its start, cut after the last
    whole word that fits, with an ellipsis (a word longer than half the width is cut).

    Unlike ``textwrap.shorten``, line breaks and spacing are kept: a stored message
    keeps its shape, only its end goes."""
    if len(text) <= width:
        return text
    if width <= len(ELLIPSIS):
        return ELLIPSIS[:width]
    room = width - len(ELLIPSIS)
    cut = text[:room]
    if not text[room].isspace():  # the cut falls inside a word: go back to its start
        start = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
        if start >= room // 2:
            cut = cut[:start]
    return cut.rstrip() + ELLIPSIS
