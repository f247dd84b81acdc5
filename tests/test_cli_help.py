"""Every command's --help teaches by example, and the help of every command renders."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

from pipl.cli import cli
from tests.helpers import run


def commands() -> Iterator[tuple[str, click.Command]]:
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


COMMANDS = dict(commands())


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_shows_an_example_of_the_command(path: str) -> None:
    result = run([*path.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"'pipl {path} --help' has no example"
    # the example runs this very command
    examples = result.output.split("Example", 1)[1]
    assert f"pipl {path}" in examples, examples
