"""Test helpers: small wheels written directly (no build backend needed) and a CLI runner."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from click.testing import CliRunner, Result

from pipl.cli import cli


def make_wheel(
    dest: Path,
    name: str,
    version: str,
    *,
    requires: list[str] | None = None,
    body: str = "",
    scripts: dict[str, str] | None = None,
) -> Path:
    """Write a pure-Python wheel for module ``name`` (dashes -> underscores) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: test package {name}",
    ]
    metadata += [f"Requires-Dist: {r}" for r in requires or []]
    files = {
        f"{module}/__init__.py": (body or f"VERSION = {version!r}\n"),
        f"{dist_info}/METADATA": "\n".join(metadata) + "\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    if scripts:
        lines = ["[console_scripts]", *(f"{k} = {v}" for k, v in scripts.items())]
        files[f"{dist_info}/entry_points.txt"] = "\n".join(lines) + "\n"
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    wheel = dest / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), text)
    return wheel


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
