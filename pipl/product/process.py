"""Run a task's processing in its workspace, then build and publish the products it made.

This is what CI's ``process`` handler and pipelines reuse: the task's code runs in its
own environment (never in pipl's), pipl builds product packls from what it wrote and
uploads them to a stage.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipl.errors import PacklError
from pipl.product.build import BuiltProduct, ProductSpec, build_product
from pipl.runner import Runner
from pipl.uv import Uv

if TYPE_CHECKING:
    from pipl_pipe.assets.objects import AssetStore

    from pipl.index.client import IndexClient, UploadResult
    from pipl.project.project import Project
    from pipl.workspace.workspace import Workspace


@dataclass(frozen=True)
class ProcessResult:
    task: str
    version: str
    products: list[BuiltProduct]
    uploads: list[UploadResult]
    index: str | None


def run_process(
    project: Project,
    ws: Workspace,
    task: str,
    *,
    store: AssetStore,
    client: IndexClient | None = None,
    stage: str | None = None,
    workdir: Path | None = None,
    runner: Runner | None = None,
    skip: Callable[[ProductSpec], bool] | None = None,
) -> ProcessResult:
    """Run ``task``'s processing in ``ws``; build its products; publish them if ``client``."""
    from pipl.workspace.shell import workspace_env

    runner = runner or Runner()
    workdir = Path(workdir or ws.path / "products")
    workdir.mkdir(parents=True, exist_ok=True)
    outdir = Path(tempfile.mkdtemp(prefix=f"{task}-", dir=workdir))
    done = runner.run(
        [ws.python, "-m", "pipl_pipe.process", task, outdir],
        env=workspace_env(project, ws),
        check=False,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1].removeprefix("Error: ") if lines else f"exit {done.returncode}"
        raise PacklError(f"processing of {task} failed: {reason}")
    result = json.loads(done.stdout)
    uv = Uv(runner)
    index = project.stage_index(stage or ws.stage) if client is not None else None
    built = []
    for item in result["products"]:
        spec = ProductSpec(
            name=item["name"],
            type=item["type"],
            version=item["version"],
            sources=item["sources"],
            asset_types=item["assets"],
            description=item["description"],
        )
        if skip is not None and skip(spec):  # e.g. this version is published already
            continue
        built.append(
            build_product(
                Path(item["outputs"]),
                spec,
                store=store,
                workdir=workdir,
                index_url=ws.index_url(project),
                uv=uv,
                client=client,
                index=index,
            )
        )
    uploads = []
    if client is not None and index is not None:
        for product in built:
            uploads += [client.upload(index, path) for path in product.files]
    return ProcessResult(result["task"], result["version"], built, uploads, index)
