"""Rendering for the CLI: aligned tables for people, versioned JSON for programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from pipl.errors import UsageError

JSON_VERSION = 1


def emit_json(kind: str, data: Any) -> None:
    """Print ``{"version": 1, "kind": kind, "data": ...}``: the stable machine shape."""
    click.echo(
        json.dumps({"version": JSON_VERSION, "kind": kind, "data": data}, indent=2, default=str)
    )


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    if not rows:
        return
    cells = [[str(h) for h in headers], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        click.echo(click.style(line, bold=True) if n == 0 else line)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def read_password(password_stdin: bool, *, confirm: bool = True, prompt: str = "Password") -> str:
    """A password from one line of stdin, or typed (twice) at a hidden prompt, which
    needs a terminal."""
    if password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise UsageError("no password on stdin (got an empty line)")
        return line
    if not sys.stdin.isatty():
        raise UsageError(
            "no terminal to type the password in: pipe it with --password-stdin "
            '(e.g. echo "$PASSWORD" | pipl ... --password-stdin)'
        )
    value = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    return str(value)
