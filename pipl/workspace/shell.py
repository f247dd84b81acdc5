"""Running things inside a workspace: its environment, its shell, its commands."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipl.errors import WorkspaceError
from pipl.project.project import Project
from pipl.runner import Runner
from pipl.uv import uv_bin
from pipl.workspace.workspace import ENV_WORKSPACE, Workspace

COMMANDS_GROUP = "pipl.commands"


@dataclass(frozen=True)
class Command:
    name: str
    target: str  # module:function
    packl: str
    version: str
    installed: bool  # an executable of that name exists in the workspace


def commands(ws: Workspace) -> list[Command]:
    """Commands that installed packls offer through the ``pipl.commands`` entry points."""
    found = []
    for dist in ws.distributions().values():
        for ep in dist.entry_points:
            if ep.group == COMMANDS_GROUP:
                found.append(
                    Command(
                        ep.name,
                        ep.value,
                        dist.metadata["Name"],
                        dist.version,
                        (ws.bin_dir / ep.name).exists(),
                    )
                )
    return sorted(found, key=lambda c: c.name)


def prompt_label(project: Project, ws: Workspace) -> str:
    return f"(pipl {project.name}/{ws.name})"


def workspace_env(
    project: Project,
    ws: Workspace,
    base: Mapping[str, str] | None = None,
    *,
    envsets: bool = False,
) -> dict[str, str]:
    """The environment of a workspace: its venv first on PATH, its project and index, and
    (``envsets=True``) what its packls' envsets resolve to."""
    ws.check_venv()
    env = dict(os.environ if base is None else base)
    env.pop("PYTHONHOME", None)
    index_url = ws.index_url(project)
    env.update(
        VIRTUAL_ENV=str(ws.venv),
        PATH=os.pathsep.join([str(ws.bin_dir), env.get("PATH", "")]),
        PIPL_PROJECT=str(project.root),
        PIPL_WORKSPACE=str(ws.path),
        PIPL_STAGE=ws.stage,
        PIP_INDEX_URL=index_url,
        UV_DEFAULT_INDEX=index_url,
        PIPL_PROMPT=prompt_label(project, ws),
        PIPL_UV=uv_bin(),
    )
    if envsets:
        from pipl.workspace.inside import envsets as resolve

        env.update(resolve(project, ws, env)["env"])
    return env


def run_in(project: Project, ws: Workspace, argv: Sequence[str], cwd: Path | None = None) -> int:
    """Run ``argv`` in the workspace environment, attached to this terminal."""
    if not argv:
        raise WorkspaceError(
            "no command given: write it after '--', e.g. pipl work run -- python -V"
        )
    env = workspace_env(project, ws, envsets=True)
    exe = shutil.which(argv[0], path=env["PATH"])
    if exe is None:
        known = ", ".join(c.name for c in commands(ws)) or "none"
        raise WorkspaceError(
            f"command {argv[0]!r} not found in workspace {ws.name!r} (packl commands: {known})"
        )
    return Runner().run([exe, *argv[1:]], env=env, cwd=cwd, check=False, capture=False).returncode


def spawn_shell(project: Project, ws: Workspace, shell: str | None = None) -> int:
    """Start the user's shell inside the workspace; return its exit code."""
    env = workspace_env(project, ws, envsets=True)
    shell = shell or os.environ.get("SHELL") or "/bin/sh"
    label = env["PIPL_PROMPT"]
    name = Path(shell).name
    with tempfile.TemporaryDirectory(prefix="pipl-shell-") as tmp:
        argv = [shell]
        if name == "bash":
            rc = Path(tmp) / "bashrc"
            rc.write_text(
                f'[ -f "$HOME/.bashrc" ] && . "$HOME/.bashrc"\nPS1="{label} ${{PS1:-\\\\$ }}"\n'
            )
            argv += ["--rcfile", str(rc)]
        elif name == "zsh":
            rc = Path(tmp) / ".zshrc"
            rc.write_text(f'[ -f "$HOME/.zshrc" ] && . "$HOME/.zshrc"\nPROMPT="{label} $PROMPT"\n')
            env["ZDOTDIR"] = tmp
        else:
            env["PS1"] = f"{label} $ "
        return Runner().run(argv, env=env, cwd=ws.path, check=False, capture=False).returncode


__all__ = [
    "COMMANDS_GROUP",
    "ENV_WORKSPACE",
    "Command",
    "commands",
    "run_in",
    "spawn_shell",
    "workspace_env",
]
