"""A packl's ``pyproject.toml``: read it, edit it, and record every edit made by tools.

Edits keep the file's formatting and comments (tomlkit) and are appended to the packl's
own history, an array of tables in ``[tool.pipl]``::

    [[tool.pipl.history]]
    at = "2026-11-21T10:02:11Z"
    by = "alice"
    action = "add"
    detail = "shotlib>=1.0"

The history is append-only: tools never rewrite or remove an entry. pipl's commands and
the framework's workspace commands (``create_task``) edit packls through this class, under
the file's lock (``PyProject.editing``), so two tools editing one packl at once both keep
their change.
"""

from __future__ import annotations

import contextlib
import getpass
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from pipl_pipe.errors import PyProjectError
from pipl_pipe.fsutil import atomic_write, locked


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class PyProject:
    """A loaded ``pyproject.toml`` of a packl; ``save()`` writes it atomically."""

    def __init__(self, path: Path) -> None:
        import tomlkit
        from tomlkit.exceptions import TOMLKitError

        self.path = path
        try:
            self.doc = tomlkit.parse(path.read_text())
        except FileNotFoundError:
            raise PyProjectError(f"{path} is missing: is {path.parent} a packl?") from None
        except TOMLKitError as exc:
            raise PyProjectError(f"{path} is not valid TOML ({exc}); fix the file") from None
        project = self.doc.get("project")
        if not isinstance(project, dict) or not project.get("name"):
            raise PyProjectError(f"{path} has no [project] name; fix the file")
        if not isinstance(project.get("version"), str):
            raise PyProjectError(
                f"{path}: [project] version must be a static string "
                "(pipl manages it with 'pipl packl bump')"
            )

    @classmethod
    @contextlib.contextmanager
    def editing(cls, path: Path) -> Iterator[Self]:
        """Read ``path``, let the caller change it, and save it, all under the file's lock
        (nothing is saved when the caller raises)."""
        with locked(path):
            pyproject = cls(path)
            yield pyproject
            pyproject.save()

    @property
    def project(self) -> Any:
        return self.doc["project"]

    @property
    def name(self) -> str:
        return str(self.project["name"])

    @property
    def version(self) -> str:
        return str(self.project["version"])

    @property
    def pipl(self) -> Any:
        tool = self.doc.get("tool", {})
        return tool.get("pipl", {}) if isinstance(tool, dict) else {}

    @property
    def kind(self) -> str | None:
        kind = self.pipl.get("kind")
        return str(kind) if kind else None

    @property
    def dependencies(self) -> list[str]:
        return [str(d) for d in self.project.get("dependencies", [])]

    @property
    def optional_dependencies(self) -> dict[str, list[str]]:
        extras = self.project.get("optional-dependencies", {})
        return {str(k): [str(d) for d in v] for k, v in extras.items()}

    @property
    def entry_points(self) -> dict[str, dict[str, str]]:
        groups = {
            str(g): {str(k): str(v) for k, v in eps.items()}
            for g, eps in self.project.get("entry-points", {}).items()
        }
        scripts = self.project.get("scripts", {})
        if scripts:
            groups["console_scripts"] = {str(k): str(v) for k, v in scripts.items()}
        return groups

    @property
    def history(self) -> list[dict[str, str]]:
        return [
            {str(k): str(v) for k, v in entry.items()} for entry in self.pipl.get("history", [])
        ]

    def record(self, action: str, detail: str) -> None:
        """Append one entry to the packl's edit history (saved with the next ``save``)."""
        import tomlkit

        tool = self.doc.setdefault("tool", tomlkit.table())
        pipl = tool.setdefault("pipl", tomlkit.table())
        if "history" not in pipl:
            pipl["history"] = tomlkit.aot()
        entry = tomlkit.table()
        entry.update({"at": now(), "by": user(), "action": action, "detail": detail})
        entry.add(tomlkit.nl())
        pipl["history"].append(entry)

    def save(self) -> None:
        import tomlkit

        text = tomlkit.dumps(self.doc)
        # keep each history entry a readable block
        text = re.sub(r"(?<=[^\n])\n(?=\[\[tool\.pipl\.history\]\])", "\n\n", text)
        atomic_write(self.path, text)
