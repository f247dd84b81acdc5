"""A small CG production, end to end, through the project index.

    model product  ->  rig product  ->  shot-010-anim task  ->  render product
    (chair-model)      (chair-rig)      (open-scene, render)     (shot-010-anim-render)

Run it against a running project (``PIPL_PROJECT=... python examples/cg/run.py``); the
tests run ``run()`` against their own server. Every step uses pipl's library, the way a
studio tool or a CI handler would.

The task requires ``chair-rig>=1.0`` (a range, not a pin), so a new rig flows downstream:
``python examples/cg/run.py rig 1.1.0`` publishes a new version of the rig product to the
first stage (``publish_rig``); CI checks it (a product's kind contract is its QA), promotes
it to qa, and re-processes the task there, whose render product pins the new rig.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipl.assets.project_store import project_store
from pipl.index.session import connect
from pipl.packl import deps
from pipl.packl.build import publish
from pipl.packl.create import create_packl
from pipl.packl.packl import Packl
from pipl.packl.task import create_task
from pipl.product.build import ProductSpec, build_product
from pipl.product.process import run_process
from pipl.project.project import Project, find_project
from pipl.runner import Runner
from pipl.uv import Uv
from pipl.workspace.inside import envsets
from pipl.workspace.shell import workspace_env
from pipl.workspace.workspace import EDIT_EXTRA, create_workspace

HERE = Path(__file__).resolve().parent
CHAIR_MA = """//Maya ASCII 2025 scene
requires maya "2025";
createNode transform -n "chair";
createNode mesh -n "chairShape" -p "chair";
"""

RIG_REQUIREMENT = "chair-rig>=1.0"  # what the shot task needs: any rig from 1.0 on


def rig_scene(chair_sha256: str, joints: int = 1) -> str:
    """The rig's scene: the model's chair by hash, and its joints."""
    names = ["chair_root"] + [f"chair_leg_{i}" for i in range(1, joints)]
    return (
        CHAIR_MA
        + f'file -r "{chair_sha256}";\n'
        + "".join(f'createNode joint -n "{n}";\n' for n in names)
    )


def build_and_upload(
    project: Project,
    client: Any,
    spec: ProductSpec,
    outputs: Path,
    workdir: Path,
    log: Callable[[str], None],
) -> Any:
    """Build product ``spec`` from ``outputs`` and upload it to the first stage."""
    built = build_product(
        outputs,
        spec,
        store=project_store(project),
        workdir=workdir,
        index_url=project.simple_url(),
        uv=Uv(),
        client=client,
        index=project.stage_index(),
    )
    for path in built.files:
        client.upload(project.stage_index(), path)
    log(
        f"published product {spec.name} {spec.version}: "
        + ", ".join(f"{a.name}={a.sha256[:12]}" for a in built.assets)
    )
    return built


def publish_rig(
    project: Project,
    version: str,
    *,
    joints: int = 2,
    log: Callable[[str], None] = print,
    workdir: Path | None = None,
) -> Any:
    """A new version of the rig product (made from the same model, with more joints),
    published to the first stage like the first one; CI does the rest."""
    work = Path(workdir or tempfile.mkdtemp(prefix="pipl-cg-rig-"))
    outputs = work / "rig-outputs"
    outputs.mkdir(parents=True)
    (outputs / "scene.ma").write_text(
        rig_scene(hashlib.sha256(CHAIR_MA.encode()).hexdigest(), joints)
    )
    spec = ProductSpec(
        "chair-rig",
        "rig",
        version,
        ["chair-model==1.0.0", "cg-pipeline==0.1.0"],
        {"scene": "maya-ascii"},
    )
    with connect(project, "owner") as client:
        return build_and_upload(project, client, spec, outputs, work / "products", log)


def run(
    project: Project,
    *,
    workspace: str = "cg",
    log: Callable[[str], None] = print,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Run the whole production; return what a test (or a curious user) checks."""
    work = Path(workdir or tempfile.mkdtemp(prefix="pipl-cg-"))
    store = project_store(project)
    uv = Uv()
    facts: dict[str, Any] = {}
    with connect(project, "owner") as client:
        ws = create_workspace(project, workspace)
        index_url = ws.index_url(project)
        log(f"workspace {ws.name} at {ws.path}")

        # 1. the pipeline packls: published so that every product and task can use them
        for name in ("cg-pipeline", "maya-tools"):
            shutil.copytree(HERE / "packls" / name, ws.packls_dir / name)
            uv.install(
                ws.python,
                [],
                editables=[ws.packls_dir / name],
                index_url=index_url,
                extra=EDIT_EXTRA,
            )
            publish(project, ws, Packl(ws.packls_dir / name, name), client)
            log(f"published {name}")

        def product(
            name: str, type_: str, outputs: Path, sources: list[str], types: dict[str, str]
        ) -> Any:
            spec = ProductSpec(name, type_, "1.0.0", sources, types)
            return build_and_upload(project, client, spec, outputs, work / "products", log)

        # 2. a model product: a scene file and a folder of textures
        model_out = work / "model-outputs"
        (model_out / "textures").mkdir(parents=True)
        (model_out / "chair.ma").write_text(CHAIR_MA)
        (model_out / "textures" / "wood.tex").write_bytes(bytes(range(256)) * 64)
        (model_out / "textures" / "metal.tex").write_bytes(b"\x7f" * 4096)
        model = product(
            "chair-model",
            "model",
            model_out,
            ["cg-pipeline==0.1.0"],
            {"chair": "maya-ascii", "textures": "texture-folder"},
        )

        # 3. a rig product made from the model (pinned)
        rig_out = work / "rig-outputs"
        rig_out.mkdir()
        chair = next(a for a in model.assets if a.name == "chair")
        (rig_out / "scene.ma").write_text(rig_scene(chair.sha256))
        rig = product(
            "chair-rig",
            "rig",
            rig_out,
            ["chair-model==1.0.0", "cg-pipeline==0.1.0"],
            {"scene": "maya-ascii"},
        )
        facts["rig_scene"] = rig.assets[0].sha256

        # 4. the shot task: a packl turned into a shot-animation task, using the rig, with
        #    the editor's tools only in workspaces (edit extra)
        task = create_packl(
            project, ws, "shot-010-anim", "lib", description="Shot 010: the chair wobbles"
        )
        log(create_task(project, ws, task, "shot-animation", uv=uv))
        deps.add(project, ws, task, RIG_REQUIREMENT, uv=uv)
        deps.add(project, ws, task, "maya-tools", extra="edit", uv=uv)
        publish(project, ws, task, client)
        log("published shot-010-anim")

        # 5. the editor's environment, and open-scene resolving the upstream assets
        env = envsets(project, ws, workspace_env(project, ws))
        facts["envsets"] = env["env"]
        opened = Runner().run(["open-scene"], env=workspace_env(project, ws, envsets=True))
        facts["open_scene"] = opened.stdout
        log(opened.stdout.strip())

        # 6. the render step: the task's processing, published as a render product
        result = run_process(project, ws, "shot-010-anim", store=store, client=client)
        [render] = result.products
        facts["render"] = {a.name: a.sha256 for a in render.assets}
        log(
            f"published product {render.packl.name}: "
            + ", ".join(f"{u.filename} {u.action}" for u in result.uploads)
        )

    # 7. anyone installs the render with plain pip and gets its frames, verified
    env_dir = work / "viewer-env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", env_dir], check=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            env_dir / "bin" / "python",
            "install",
            "--quiet",
            "--index-url",
            project.simple_url(),
            "shot-010-anim-render",
        ],
        check=True,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )
    probe = (
        "from pipl_pipe.products import get_product\n"
        "p = get_product('shot-010-anim-render')\n"
        "frames = p.assets.frames.fetch()\n"
        "print(p.name, p.version, p.type, sorted(f.name for f in frames.iterdir()))\n"
        "print('sources', ' '.join(p.sources))\n"
        "import json; print('source_files', json.dumps(p.source_files, sort_keys=True))\n"
    )
    viewer = subprocess.run(
        [env_dir / "bin" / "python", "-c", probe],
        capture_output=True,
        text=True,
        cwd=work,
        env={**os.environ, "PIPL_PROJECT": str(project.root)},
    )
    if viewer.returncode != 0:
        raise RuntimeError(f"the render did not install cleanly: {viewer.stderr.strip()}")
    facts["viewer"] = viewer.stdout
    facts["installed"] = sorted(p.name for p in (env_dir / "lib").glob("*/site-packages/*"))
    log(viewer.stdout.strip())
    return facts


def main(argv: list[str]) -> None:
    project = find_project()
    if argv[:1] == ["rig"] and len(argv) == 2:
        publish_rig(project, argv[1])
        return
    if argv:
        sys.exit(
            "usage: run.py            the whole production\n       run.py rig VERSION    a new rig"
        )
    facts = run(project)
    print(f"\nCG example done: render frames {facts['render']['frames'][:12]}...")


if __name__ == "__main__":
    main(sys.argv[1:])
