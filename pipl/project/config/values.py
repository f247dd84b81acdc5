"""The pieces every table of ``pipl.toml`` is read with: typed values and their error.

A bad value is a ``SettingError`` naming the table and the key (``[ci] workers must be an
integer from 1 to 64``); ``PiplToml.checked`` turns it into one line naming the file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pipl.errors import UsageError

FILENAME = "pipl.toml"


class SettingError(TypeError, ValueError):
    """One bad value in ``pipl.toml``: ``[TABLE] KEY WHAT`` (a wrong type or a value out
    of range alike; callers that caught either before still catch it)."""

    def __init__(self, table: str, key: str, what: str) -> None:
        self.table, self.key = table, key
        super().__init__(f"[{table}] {key} {what}" if key else f"[{table}] {what}")


def table_of(data: Any, table: str) -> dict[str, Any]:
    """``data`` if it is a table (absent: an empty one)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingError(table, "", "must be a table")
    return data


def flag(data: dict[str, Any], table: str, key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise SettingError(table, key, "must be true or false")
    return value


def integer(data: dict[str, Any], table: str, key: str, default: int, lo: int, hi: int) -> int:
    """A whole number from ``lo`` to ``hi`` (``hi`` < 0: no upper bound)."""
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < lo or value > hi >= 0:
        if hi >= 0:
            raise SettingError(table, key, f"must be an integer from {lo} to {hi}")
        what = "a positive integer" if lo == 1 else f"an integer of {lo} or more"
        raise SettingError(table, key, f"must be {what}")
    return value


def text(data: dict[str, Any], table: str, key: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise SettingError(table, key, "must be text")
    return value


def text_list(data: dict[str, Any], table: str, key: str, what: str) -> list[str]:
    """A list of text (``what``: what its items are, for the message)."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SettingError(table, key, f"must be a list of {what}")
    return value


def checked_names(
    values: Sequence[str], table: str, key: str, check: Callable[[str], str]
) -> tuple[str, ...]:
    """``values`` passed through ``check`` (a ``pipl.names`` check)."""
    try:
        return tuple(check(v) for v in values)
    except UsageError as exc:
        raise SettingError(table, key, f"lists a bad name ({exc})") from None
