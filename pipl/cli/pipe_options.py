"""What the ``pipl pipe`` commands share: the pipeline and prefix options, and loading
the pipeline they name."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from pipl.pipe import Pipeline

pipeline_option = click.option(
    "-P",
    "--pipeline",
    "folder",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The pipeline packl's folder.",
)
prefix_option = click.option(
    "--prefix",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="PIPL_PIPE_PREFIX",
    help="Where data is stored (default: PIPELINE/pipe-data; env PIPL_PIPE_PREFIX).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def load(folder: Path, prefix: Path | None) -> Pipeline:
    """The pipeline packl in ``folder``, its data under ``prefix`` (default: its own)."""
    from pipl.pipe import load_pipeline

    return load_pipeline(folder.resolve(), prefix.resolve() if prefix else None)
