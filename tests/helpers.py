"""Test helpers: small wheels written directly (no build backend needed) and a CLI runner."""

from __future__ import annotations

from pathlib import Path

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


def fails(result: Result, code: int, *needles: str) -> None:
    """Assert a one-line ``Error: ...`` with exit ``code`` mentioning every needle."""
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
