"""The packl ``pyproject.toml`` editor (it lives in pipl-pipe so that workspace commands
share it), with its errors turned into pipl's ``PacklError``."""

from __future__ import annotations

from pathlib import Path

from pipl_pipe.errors import PyProjectError
from pipl_pipe.pyproject import PyProject as _PyProject
from pipl_pipe.pyproject import now, user

from pipl.errors import PacklError

__all__ = ["PyProject", "now", "user"]


class PyProject(_PyProject):
    def __init__(self, path: Path) -> None:
        try:
            super().__init__(path)
        except PyProjectError as exc:
            raise PacklError(str(exc)) from None
