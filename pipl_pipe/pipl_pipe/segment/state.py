"""The environment of the instance running now, for code that imports the segment API."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipl_pipe.segment.env import Environment

_current: contextvars.ContextVar[Environment | None] = contextvars.ContextVar(
    "pipl_pipe_segment", default=None
)


def enter(env: Environment) -> contextvars.Token[Environment | None]:
    return _current.set(env)


def leave(token: contextvars.Token[Environment | None]) -> None:
    _current.reset(token)


def current() -> Environment:
    env = _current.get()
    if env is None:
        from pipl_pipe.segment.env import SegmentError

        raise SegmentError("no segment instance is running (call this from segment code)")
    return env
