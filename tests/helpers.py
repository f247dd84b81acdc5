"""Test helpers: small wheels written directly (no build backend needed), the CLI run
in-process, in a process of its own, or on a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
from click.testing import CliRunner, Result

from pipl.cli import cli
from pipl.index.wheelpack import write_wheel


def make_wheel(
    dest: Path,
    name: str,
    version: str,
    *,
    requires: list[str] | None = None,
    body: str = "",
    scripts: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
    entry_points: dict[str, dict[str, str]] | None = None,
) -> Path:
    """A pure-Python wheel for module ``name`` (dashes -> underscores), written directly."""
    module = name.replace("-", "_")
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: test package {name}",
    ]
    metadata += [f"Requires-Dist: {r}" for r in requires or []]
    content = {f"{module}/__init__.py": (body or f"VERSION = {version!r}\n").encode()}
    content.update({f"{module}/{path}": text.encode() for path, text in (files or {}).items()})
    groups = dict(entry_points or {})
    if scripts:
        groups["console_scripts"] = scripts
    dist_info = {"METADATA": ("\n".join(metadata) + "\n").encode()}
    if groups:
        dist_info["entry_points.txt"] = "".join(
            f"[{g}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
            for g, eps in groups.items()
        ).encode()
    return write_wheel(dest, name, version, content, dist_info)


def run(args: list[str], *, input: str | None = None, project: Path | None = None) -> Result:
    """Invoke the CLI in-process; unexpected exceptions propagate with their traceback."""
    if project is not None:
        args = ["--project", str(project), *args]
    return CliRunner().invoke(cli, args, input=input, catch_exceptions=False)


def fails(result: Result | Proc, code: int, *needles: str) -> None:
    """Assert a one-line ``Error: ...`` with exit ``code`` mentioning every needle."""
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@dataclass(frozen=True)
class Proc:
    """What a ``pipl`` run in its own process did (the shape ``fails()`` reads)."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def pipl_argv(args: list[str], project: Path | None = None) -> list[str]:
    prefix = ["--project", str(project)] if project is not None else []
    return [sys.executable, "-m", "pipl.cli", *prefix, *args]


def run_process(
    args: list[str],
    *,
    project: Path | None = None,
    input: str | None = None,
    env: dict[str, str] | None = None,
    wrapper: list[str] | None = None,
    timeout: float = 300,
) -> Proc:
    """Run ``pipl`` in a process of its own (no terminal: stdin is a pipe or /dev/null)."""
    out = subprocess.run(
        [*(wrapper or []), *pipl_argv(args, project)],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    return Proc(out.returncode, out.stdout, out.stderr)


def run_in_terminal(
    args: list[str],
    answers: list[tuple[str, str]],
    *,
    project: Path | None = None,
    timeout: float = 120,
) -> tuple[int, str]:
    """Run ``pipl`` on a pseudo-terminal, typing each answer once its prompt shows."""
    argv = pipl_argv(args, project)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin, stdout, stderr and /dev/tty
        try:
            os.execv(argv[0], argv)  # noqa: S606 - argv list, no shell
        finally:
            os._exit(127)
    output = b""
    pending = list(answers)
    seen = 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if pending and pending[0][0].encode() in output[seen:]:
                prompt, answer = pending.pop(0)
                seen = output.index(prompt.encode(), seen) + len(prompt)
                os.write(fd, answer.encode() + b"\n")
        else:
            os.kill(pid, signal.SIGKILL)  # stuck at a prompt nobody answers
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def cli_commands() -> Iterator[tuple[str, click.Command]]:
    """Every command of the CLI tree, as ("group sub", command), groups walked through."""
    ctx = click.Context(cli)

    def walk(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, name
            path = f"{prefix} {name}".strip()
            if isinstance(command, click.Group):
                yield from walk(command, path)
            else:
                yield path, command

    yield from walk(cli, "")
