"""Editable and local-path code: which segments use it, and a digest of its files.

A scientist often develops a library beside the pipeline: installed editable in the
environment segments run in by default (``pip install -e ../mylib``), or listed by path in
a segment's own environment (``"env": ["../mylib", "numpy"]`` or ``"-e ../mylib"``). Its
version does not change when its files do, so the key of a segment that uses it covers the
content of its source folder: an edit re-runs that segment and its descendants, and
nothing else.

A segment uses the local paths of its own environment. Which segments use an editable
install of the default environment is read from their imports (the script and its hooks,
or a segment packl's module), then from the imports of those editable sources, so a
library that imports another editable one brings that one in too.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from pipl.errors import PipelineError

if TYPE_CHECKING:
    from pipl.pipe.code import SegmentCode
    from pipl.pipe.pipeline import Pipeline

# never part of a source's content: caches, version control, virtualenvs, build output
SKIP_DIRS = frozenset({"__pycache__", "build", "dist", "node_modules", "pipe-data", "htmlcov"})
SKIP_SUFFIXES = (".pyc", ".pyo", ".egg-info")
PIPELINE_DATA = "pipe.sqlite"  # a folder holding a pipeline's data is not code
_EDITABLE_FLAG = re.compile(r"^(?:-e|--editable)(?:\s+|=)(.+)$")
_NOT_MODULES = frozenset({"setup", "conftest", "noxfile", "tasks"})


def local_path(entry: str) -> str | None:
    """The folder an ``env`` entry names (``../mylib``, ``-e ../mylib``, ``/abs/lib``,
    ``file:///abs/lib``), or None for an index requirement (``numpy<2``)."""
    text = entry.strip()
    flagged = _EDITABLE_FLAG.match(text)
    if flagged:
        text = flagged.group(1).strip()
    if text.startswith("file:"):
        return unquote(urlparse(text).path)
    if text.startswith((".", "/", "~")) or flagged:
        return text
    return None


def pipeline_folder(pipeline: Pipeline) -> Path:
    """What local ``env`` entries are relative to: the pipeline packl's folder (the module
    folder's parent, for a pipeline loaded from its installed module), else the code
    folder, else the current one."""
    root = pipeline.root
    if root is None:
        return pipeline.code_dir or Path.cwd()
    module = not (root / "pyproject.toml").is_file() and (root / "__init__.py").is_file()
    return root.parent if module and (root.parent / "pyproject.toml").is_file() else root


def resolve_local(entry: str, base: Path, segment: str) -> Path:
    """The source folder of a local ``env`` entry, checked: it must be a Python project."""
    path = Path(os.path.expanduser(local_path(entry) or entry))
    folder = (path if path.is_absolute() else base / path).resolve()
    if not folder.is_dir():
        raise PipelineError(
            f"segment {segment}: env entry {entry!r} is not a folder ({folder}): give the "
            f"path of a Python project, relative to {base}"
        )
    if not any((folder / marker).is_file() for marker in ("pyproject.toml", "setup.py")):
        raise PipelineError(
            f"segment {segment}: env entry {entry!r} ({folder}) has no pyproject.toml or "
            "setup.py: only a Python project can be installed editable"
        )
    return folder


def tree_digest(folder: Path) -> str:
    """sha256 over the relative paths and contents of the files under ``folder``, leaving
    out caches, hidden files and folders (.git, .venv...), build output and pipeline data."""
    h = hashlib.sha256()
    for path in _files(folder):
        rel = path.relative_to(folder).as_posix().encode()
        h.update(len(rel).to_bytes(4, "big") + rel)
        if path.is_symlink() and (path.is_dir() or not path.exists()):
            h.update(b"link:" + os.readlink(path).encode())
            continue
        file_hash = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                file_hash.update(chunk)
        h.update(file_hash.digest())
    return h.hexdigest()


def _files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for top, dirs, files in os.walk(folder):
        here = Path(top)
        if PIPELINE_DATA in files and here != folder:
            dirs[:] = []
            continue
        kept = [d for d in dirs if not _skipped(d)]
        found += [here / d for d in kept if (here / d).is_symlink()]  # not followed
        dirs[:] = sorted(d for d in kept if not (here / d).is_symlink())
        found += [
            here / f for f in files if not f.startswith(".") and not f.endswith(SKIP_SUFFIXES)
        ]
    return sorted(found)


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in SKIP_DIRS or name.endswith(SKIP_SUFFIXES)


def project_name(folder: Path) -> str:
    """The distribution name in ``folder/pyproject.toml``, else the folder's name."""
    import tomllib

    try:
        name = tomllib.loads((folder / "pyproject.toml").read_text())["project"]["name"]
    except (OSError, KeyError, TypeError, ValueError):
        name = folder.name
    return re.sub(r"[-_.]+", "-", str(name)).lower()


def imported(source: str) -> set[str]:
    """Top-level module names a Python source imports (absolute imports only)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


@dataclass(frozen=True)
class Editable:
    """An editable install: its distribution name, source folder and top-level modules."""

    name: str
    path: Path
    modules: frozenset[str]


def editable_installs(python: str) -> list[Editable]:
    """The editable installs of the environment of ``python`` (from their
    ``direct_url.json``); this interpreter's are read without starting a process."""
    found = _listed_here() if python == sys.executable else _listed_in(python)
    result = []
    for name, url in found:
        parsed = urlparse(url)
        path = Path(unquote(parsed.path))
        if parsed.scheme == "file" and path.is_dir():
            result.append(Editable(name, path, _top_modules(path, name)))
    return result


def _listed_here() -> list[tuple[str, str]]:
    import importlib.metadata as md

    found = []
    for dist in md.distributions():
        info = _editable_url(dist.read_text("direct_url.json"))
        if info:
            found.append((dist.metadata["Name"] or "", info))
    return found


def _editable_url(text: str | None) -> str:
    try:
        data: dict[str, Any] = json.loads(text or "{}")
    except ValueError:
        return ""
    return str(data.get("url", "")) if data.get("dir_info", {}).get("editable") else ""


LIST_EDITABLES = """
import importlib.metadata as md, json
for d in md.distributions():
    t = d.read_text("direct_url.json") or "{}"
    try:
        u = json.loads(t)
    except ValueError:
        continue
    if u.get("dir_info", {}).get("editable"):
        print(json.dumps([d.metadata["Name"] or "", u.get("url", "")]))
"""


def _listed_in(python: str) -> list[tuple[str, str]]:
    from pipl.runner import Runner

    done = Runner().run([python, "-c", LIST_EDITABLES], check=False)
    if done.returncode != 0:
        raise PipelineError(
            f"cannot list the editable installs of {python} (exit {done.returncode}): "
            f"{done.stderr.strip().splitlines()[-1:] or ''}"
        )
    return [tuple(json.loads(line)) for line in done.stdout.splitlines() if line.startswith("[")]


def _top_modules(folder: Path, name: str) -> frozenset[str]:
    """The packages and modules at the top of ``folder`` (or its ``src/``)."""
    modules = {re.sub(r"[-.]+", "_", name).lower()}
    for base in (folder, folder / "src"):
        if not base.is_dir():
            continue
        for child in base.iterdir():
            if _skipped(child.name):
                continue
            if child.is_dir() and (child / "__init__.py").is_file():
                modules.add(child.name)
            elif child.suffix == ".py" and child.stem not in _NOT_MODULES:
                modules.add(child.stem)
    return frozenset(modules)


class SourceScan:
    """The editable and local-path sources of one pipeline's segments, each folder hashed
    and each environment listed once per scan (one scan per run)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.base = pipeline_folder(pipeline)
        self._digests: dict[Path, str] = {}
        self._imports: dict[Path, set[str]] = {}
        self._editables: dict[str, list[Editable]] = {}

    def of(self, name: str, spec: dict[str, Any], code: SegmentCode, python: str) -> dict[str, str]:
        """``{distribution name: sha256 of its source files}`` for the editable and
        local-path code segment ``name`` uses."""
        requirements = spec.get("env") or []
        if isinstance(requirements, str):
            requirements = [requirements]
        if requirements:  # its own environment: the local paths it lists
            folders = [
                resolve_local(entry, self.base, name)
                for entry in requirements
                if local_path(str(entry)) is not None
            ]
            return {project_name(f): self.digest(f) for f in folders}
        return {e.name: self.digest(e.path) for e in self.used(code, python)}

    def used(self, code: SegmentCode, python: str) -> list[Editable]:
        """The default environment's editable installs that ``code`` imports, directly or
        through another of them."""
        installs = self._editables.get(python)
        if installs is None:
            installs = self._editables[python] = editable_installs(python or sys.executable)
        if not installs:
            return []
        wanted = set().union(*(imported(s) for s in (code.source, *_hook_sources(code))))
        if code.entry:
            wanted.add(code.entry.partition(":")[0].strip().partition(".")[0])
        chosen: dict[str, Editable] = {}
        pending = [e for e in installs if e.modules & wanted]
        while pending:
            editable = pending.pop()
            if editable.name in chosen:
                continue
            chosen[editable.name] = editable
            uses = self._imports_of(editable.path)
            pending += [e for e in installs if e.name not in chosen and e.modules & uses]
        return [chosen[n] for n in sorted(chosen)]

    def digest(self, folder: Path) -> str:
        if folder not in self._digests:
            self._digests[folder] = tree_digest(folder)
        return self._digests[folder]

    def _imports_of(self, folder: Path) -> set[str]:
        if folder not in self._imports:
            names: set[str] = set()
            for path in _files(folder):
                if path.suffix == ".py" and path.is_file():
                    names |= imported(path.read_text(errors="replace"))
            self._imports[folder] = names
        return self._imports[folder]


def _hook_sources(code: SegmentCode) -> list[str]:
    return [source for _, source in code.hooks.values()]
