"""Typed results: every operation answers JSON, which the client turns into dataclasses.

``build(cls, data)`` makes a dataclass from a JSON object: nested dataclasses and lists of
them are built too, and keys the class does not know are ignored, so an older client
keeps working against a newer server. ``to_json`` is the other way, used by the server.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def build(cls: type[T], data: Any) -> T:
    """``cls`` (a dataclass) from the JSON object ``data``."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} expects a JSON object, not {type(data).__name__}")
    hints = _fields(cls)  # type: ignore[arg-type]  # a class is hashable, type[T] too
    kwargs = {key: value_of(hints[key], value) for key, value in data.items() if key in hints}
    return cls(**kwargs)


@functools.cache
def _fields(cls: type) -> dict[str, Any]:
    """The fields of dataclass ``cls`` and their types, worked out once per class:
    evaluating the annotations (text) took most of the time of building a long list."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def build_list(cls: type[T], data: Any) -> list[T]:
    return [build(cls, item) for item in data or []]


def value_of(hint: Any, value: Any) -> Any:
    """The JSON ``value`` as the annotated type ``hint`` (dataclasses built, lists and
    tuples of them too; other values as they are)."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return value_of(inner[0], value) if len(inner) == 1 else value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return build(hint, value)
    if origin in (list, tuple) and args and isinstance(args[0], type):
        if not dataclasses.is_dataclass(args[0]):
            return list(value) if origin is list else tuple(value)
        items = [build(args[0], item) for item in value]
        return items if origin is list else tuple(items)
    if origin is tuple:
        return tuple(value)
    return value


def to_json(value: Any) -> Any:
    """Dataclasses (and lists/dicts of them) as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    return value
