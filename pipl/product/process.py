"""Run a task's processing in its workspace, then build and publish the products it made.

This is what CI's ``process`` handler and pipelines reuse: the task's code runs in its
own environment (never in pipl's), pipl builds product packls from what it wrote and
uploads them to a stage.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipl import names
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
    timed: Callable[[str], AbstractContextManager[None]] | None = None,
) -> ProcessResult:
    """Run ``task``'s processing in ``ws``; build its products; publish them if ``client``.

    What the processing prints goes to stderr (it is the user's); its answer comes back
    through a result file. ``timed(step)``, if given, wraps each step (to time it)."""
    timed = timed or (lambda step: nullcontext())
    from pipl.workspace.shell import workspace_env

    names.check_dist(task, "task")
    runner = runner or Runner()
    workdir = Path(workdir or ws.path / "products")
    workdir.mkdir(parents=True, exist_ok=True)
    outdir = Path(tempfile.mkdtemp(prefix=f"{task}-", dir=workdir))
    with timed("processing"):
        result = make_outputs(ws, task, outdir, workspace_env(project, ws), runner)
    index = project.stage_index(stage or ws.stage) if client is not None else None
    return publish_products(
        result,
        store=store,
        workdir=workdir,
        index_url=ws.index_url(project),
        client=client,
        index=index,
        uv=Uv(runner),
        skip=skip,
        timed=timed,
    )


def make_outputs(
    ws: Workspace, task: str, outdir: Path, env: Mapping[str, str], runner: Runner
) -> dict[str, Any]:
    """Run ``task``'s processing (``python -m pipl_pipe.process``) in ``ws``: its outputs
    land in ``outdir``; the answer names the task, its version and the products made."""
    from pipl.workspace.inside import ask

    answer: dict[str, Any] = ask(
        ws,
        "pipl_pipe.process",
        [task, str(outdir)],
        env,
        runner,
        what=f"processing of {task} failed",
        error=PacklError,
    )
    return answer


def publish_products(
    result: dict[str, Any],
    *,
    store: AssetStore,
    workdir: Path,
    index_url: str,
    client: IndexClient | None = None,
    index: str | None = None,
    uv: Uv | None = None,
    skip: Callable[[ProductSpec], bool] | None = None,
    timed: Callable[[str], AbstractContextManager[None]] | None = None,
    check_outputs: Callable[[Path], None] | None = None,
) -> ProcessResult:
    """Build the products a processing answered with (``make_outputs``); upload them to
    ``index`` with ``client``. ``check_outputs(folder)`` vets each product's outputs
    first (CI: they come from a sandbox)."""
    timed = timed or (lambda step: nullcontext())
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
        if check_outputs is not None:
            check_outputs(Path(item["outputs"]))
        with timed("build a product"):
            built.append(
                build_product(
                    Path(item["outputs"]),
                    spec,
                    store=store,
                    workdir=workdir,
                    index_url=index_url,
                    uv=uv,
                    client=client,
                    index=index,
                )
            )
    uploads = []
    if client is not None and index is not None:
        for product in built:
            with timed("upload a product"):
                uploads += [client.upload(index, path) for path in product.files]
    return ProcessResult(result["task"], result["version"], built, uploads, index)
