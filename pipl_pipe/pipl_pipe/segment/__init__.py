"""The segment environment, importable: ``from pipl_pipe.segment import get_input``.

Each function acts on the instance that is running now (segment scripts get the same
names as globals; segment packls also receive the ``Environment`` as their argument).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipl_pipe.segment.env import Environment, SegmentError
from pipl_pipe.segment.state import current

__all__ = [
    "Environment",
    "SegmentError",
    "current",
    "expose",
    "get_data_fn",
    "get_input",
    "get_tmp_fn",
    "glob_parent",
    "glob_seg",
    "hook",
    "load_param",
    "load_products",
    "logged_subprocess",
    "logger",
    "save_param",
    "save_products",
    "seg_input",
    "set_output",
]


def seg_input() -> Any:
    """The running instance's input (see ``Environment``)."""
    return current().seg_input


def logger() -> Any:
    """The running instance's ``logging.Logger`` (it writes to the instance log)."""
    return current().logger


def get_input(seg: str | None = None) -> Any:
    return current().get_input(seg)


def set_output(value: Any) -> None:
    current().set_output(value)


def get_data_fn(basename: str, seg: str | None = None) -> str:
    return current().get_data_fn(basename, seg)


def glob_parent(pattern: str, segs: Sequence[str] | None = None) -> list[str]:
    return current().glob_parent(pattern, segs)


def glob_seg(seg: str, pattern: str) -> list[str]:
    return current().glob_seg(seg, pattern)


def get_tmp_fn(suffix: str = "") -> str:
    return current().get_tmp_fn(suffix)


def save_param(names: Sequence[str], glo: dict[str, Any] | None = None) -> None:
    current().save_param(names, glo)


def expose(names: Sequence[str], glo: dict[str, Any] | None = None) -> None:
    current().expose(names, glo)


def load_param(
    seg: str, glo: dict[str, Any] | None = None, names: Sequence[str] | None = None
) -> dict[str, Any]:
    return current().load_param(seg, glo, names)


def save_products(filename: str, glo: dict[str, Any], names: Sequence[str]) -> None:
    current().save_products(filename, glo, names)


def load_products(
    filename: str, glo: dict[str, Any] | None = None, names: Sequence[str] = ()
) -> dict[str, Any]:
    return current().load_products(filename, glo, names)


def logged_subprocess(args: Sequence[str], name: str | None = None) -> int:
    return current().logged_subprocess(args, name)


def hook(name: str, glo: dict[str, Any] | None = None) -> dict[str, Any]:
    return current().hook(name, glo)
