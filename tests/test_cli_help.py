"""Every command's --help teaches by example, and the help of every command renders."""

from __future__ import annotations

import pytest

from tests.helpers import cli_commands, run

COMMANDS = dict(cli_commands())


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_shows_an_example_of_the_command(path: str) -> None:
    result = run([*path.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"'pipl {path} --help' has no example"
    # the example runs this very command
    examples = result.output.split("Example", 1)[1]
    assert f"pipl {path}" in examples, examples
