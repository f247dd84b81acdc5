"""Repairing a workspace: a new virtualenv, its packls installed again, their sources kept.

A workspace's virtualenv can always be made again from what the workspace holds: its
packls' sources (``packls/``) and its marker (stage, ``--with`` requirements, ``--python``).
Repair builds a new virtualenv the way creation does, then installs every packl editable
with the ``edit`` extra, as ``pipl packl create`` did. Editable sources outside the
workspace that the old virtualenv still records are installed editable again too.

If a step fails, the old virtualenv (when there was one) is put back: nothing is left
half-made.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import shutil
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlparse

from pipl.project.project import Project
from pipl.uv import Uv
from pipl.workspace.workspace import EDIT_EXTRA, Workspace, make_venv

OLD_VENV = ".venv.before-repair"


@dataclass(frozen=True)
class RepairResult:
    workspace: str
    packls: list[str]  # installed editable again, from packls/
    editables: list[str] = field(default_factory=list)  # sources outside the workspace
    requirements: list[str] = field(default_factory=list)  # the workspace's --with
    skipped: dict[str, str] = field(default_factory=dict)  # packl -> why it was left out
    seconds: float = 0.0


def _packl_sources(ws: Workspace) -> tuple[list[Path], dict[str, str]]:
    """Packl folders whose pyproject reads, and the others with the reason."""
    good, skipped = [], {}
    if ws.packls_dir.is_dir():
        for folder in sorted(ws.packls_dir.iterdir()):
            pyproject = folder / "pyproject.toml"
            if not pyproject.is_file():
                continue
            try:
                tomllib.loads(pyproject.read_text())["project"]["name"]
            except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
                skipped[folder.name] = f"{pyproject} does not read ({exc}); fix it, then repair"
                continue
            good.append(folder)
    return good, skipped


def _outside_editables(ws: Workspace, *venvs: Path) -> list[Path]:
    """Editable sources outside ``packls/`` that the virtualenvs ``venvs`` had installed
    (read from their metadata: their interpreter need not run)."""
    found = []
    sites = [site for venv in venvs for site in sorted(venv.glob("lib/python3*/site-packages"))]
    for site in sites:
        for dist in md.distributions(path=[str(site)]):
            try:
                direct = json.loads(dist.read_text("direct_url.json") or "{}")
            except ValueError:
                continue
            url = str(direct.get("url", ""))
            if not direct.get("dir_info", {}).get("editable") or not url.startswith("file://"):
                continue
            source = Path(unquote(urlparse(url).path))
            if not source.is_relative_to(ws.packls_dir) and (source / "pyproject.toml").is_file():
                found.append(source)
    return sorted(set(found))


def repair_workspace(
    project: Project,
    ws: Workspace,
    *,
    python: str | None = None,
    uv: Uv | None = None,
    progress: Callable[[str], None] | None = None,
) -> RepairResult:
    """Build ``ws``'s virtualenv again and reinstall its packls editable; keep the sources.

    ``progress`` is told each step as it starts (the CLI prints it)."""
    say = progress or (lambda _message: None)
    uv = uv or Uv()
    started = time.perf_counter()
    sources, skipped = _packl_sources(ws)
    aside = ws.path / OLD_VENV
    outside = _outside_editables(ws, ws.venv, aside)
    if aside.exists():  # left by a repair that was interrupted
        shutil.rmtree(aside)
    if ws.venv.exists() or ws.venv.is_symlink():
        ws.venv.rename(aside)
    try:
        interpreter = python or ws.python_request or sys.executable
        say(f"making a new virtualenv at {ws.venv} (python {interpreter})")
        make_venv(project, ws, interpreter, uv)
        if sources or outside or ws.requirements:
            say(
                f"installing {len(sources)} packl(s) editable"
                + (f", {len(outside)} editable source(s) outside" if outside else "")
                + (f", {len(ws.requirements)} requirement(s)" if ws.requirements else "")
                + f" from {ws.index_url(project)}"
            )
            uv.install(
                ws.python,
                ws.requirements,
                editables=[*sources, *outside],
                index_url=ws.index_url(project),
                extra=EDIT_EXTRA,
                what=f"reinstall the packls of workspace {ws.name!r}",
            )
    except BaseException:
        shutil.rmtree(ws.venv, ignore_errors=True)
        if aside.exists():
            aside.rename(ws.venv)
        raise
    shutil.rmtree(aside, ignore_errors=True)
    if python and python != ws.python_request:
        replace(ws, python_request=python).save()  # the next repair uses it too
    return RepairResult(
        workspace=f"{ws.area}/{ws.name}",
        packls=[folder.name for folder in sources],
        editables=[str(path) for path in outside],
        requirements=list(ws.requirements),
        skipped=skipped,
        seconds=time.perf_counter() - started,
    )
