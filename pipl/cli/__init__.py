"""The ``pipl`` command line: a thin click layer over the ``pipl`` library.

Command groups are imported only when invoked, so ``pipl --help`` stays fast and a
broken group cannot break the others. One error boundary, around the root command, turns
``PiplError`` into ``Error: ...`` on stderr and the error family's exit code; any other
exception keeps its traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from pipl import __version__
from pipl.cli.state import AppState, error_boundary

# name -> (module, attribute, one-line help shown by `pipl --help`)
GROUPS: dict[str, tuple[str, str, str]] = {
    "proj": ("pipl.cli.proj", "proj", "Projects: create, start/stop the server, users, indexes."),
    "work": ("pipl.cli.work", "work", "Workspaces: uv virtualenvs on the project index, shells."),
    "packl": ("pipl.cli.packl", "packl", "Packls: create from templates, add deps, bump, publish."),
    "asset": ("pipl.cli.asset", "asset", "Assets: the content-addressed store, verify, gc."),
    "ci": ("pipl.cli.ci", "ci", "CI on upload: the runner, its jobs and their logs."),
    "pipe": ("pipl.cli.pipe", "pipe", "Pipelines: run segment DAGs, status, graph, push, clean."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when used, from a name -> module table."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, attr, _ = self.lazy[cmd_name]
            command = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        with error_boundary():
            return super().invoke(ctx)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # help texts come from the table: listing commands imports nothing
        rows = [(name, self.lazy[name][2]) for name in sorted(self.lazy)]
        rows += [(name, cmd.get_short_help_str()) for name, cmd in sorted(self.commands.items())]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, lazy=GROUPS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pipl")
@click.option(
    "--project",
    "project_path",
    metavar="PATH",
    envvar="PIPL_PROJECT",
    help="The project to act on (default: the one at or above the current folder; "
    "env PIPL_PROJECT).",
)
@click.pass_context
def cli(ctx: click.Context, project_path: str | None) -> None:
    """pipl: Package Index PipeLine.

    A production pipeline made of Python packages (packls) on the project's own
    devpi-server, with staged indexes (dev -> qa -> prod).

    \b
    Start here:
      pipl proj create ~/projects/demo
      cd ~/projects/demo && pipl proj start --detach
      pipl proj index create-default
      pipl proj status
    """
    ctx.obj = AppState(project_path=project_path)


def main() -> None:
    """Console entry point."""
    # httpx imports its own command-line client (rich, pygments) when they are installed;
    # pipl never uses it, and skipping it saves a tenth of a second on every command
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None blocks it
    cli(prog_name="pipl")
