"""``PiplToml``: the file as read once, and one checked model per table."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pipl.errors import ProjectError, UsageError
from pipl.project.config.ci import CiConfig, parse_ci
from pipl.project.config.gates import (
    Gate,
    QaSettings,
    ReviewConfig,
    parse_gates,
    parse_qa,
    parse_reviews,
)
from pipl.project.config.project import ProjectConfig
from pipl.project.config.values import FILENAME, SettingError
from pipl.project.config.web import WebConfig, parse_web

T = TypeVar("T")


@dataclass(frozen=True)
class PiplToml:
    """``pipl.toml`` as read once; each method gives one table's model, checked."""

    path: Path
    data: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> PiplToml:
        try:
            return cls(path, tomllib.loads(path.read_text()))
        except FileNotFoundError:
            raise ProjectError(f"{path} is missing: is this a pipl project?") from None
        except OSError as exc:
            raise ProjectError(f"{path} cannot be read ({exc.strerror}): check it") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ProjectError(f"{path} is not valid TOML ({exc}); fix the file") from None

    @classmethod
    def of(cls, root: Path) -> PiplToml:
        """The ``pipl.toml`` of the project at ``root``."""
        return cls.read(Path(root) / FILENAME)

    def checked(self, parse: Callable[..., T], *args: Any) -> T:
        """``parse(*args)``, a bad value in one line naming the file, table and key."""
        try:
            return parse(*args)
        except (SettingError, UsageError) as exc:
            raise ProjectError(f"{self.path}: {exc}; fix the file") from None

    def project(self) -> ProjectConfig:
        return self.checked(ProjectConfig.from_dict, self.data)

    def ci(self) -> CiConfig:
        return self.checked(parse_ci, self.data.get("ci"))

    def web(self, server: ProjectConfig) -> WebConfig:
        return self.checked(parse_web, self.data.get("web"), server)

    def gates(self, stages: Sequence[str]) -> dict[str, Gate]:
        return self.checked(parse_gates, self.data.get("gates"), stages)

    def reviews(self) -> ReviewConfig:
        return self.checked(parse_reviews, self.data.get("reviews"))

    def qa(self) -> QaSettings:
        return self.checked(parse_qa, self.data.get("qa"))
