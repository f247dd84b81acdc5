"""Workspaces and publishing.

1. ``pipl work create`` + 5 packls from the project index (warm uv cache), side by side
   with ``python -m venv`` + ``pip install`` of the same 5 packls (warm pip cache).
2. ``pipl packl build`` + ``publish`` of a small packl, and how much of the build is the
   build backend itself (flit_core called directly, in a process of its own).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import BIN, BenchProject, pipl, print_table, summary, timed

PACKLS = [f"bench-lib-{i}" for i in range(5)]
ROUNDS = 5


def _publish_packls(proj: BenchProject) -> None:
    pipl("work", "create", "authoring", env=proj.env)
    for name in PACKLS:
        pipl("packl", "create", name, "--kind", "lib", "-w", "authoring", env=proj.env)
        pipl("packl", "publish", "-p", name, "-w", "authoring", env=proj.env)


def bench_install(proj: BenchProject, tmp: Path) -> list[tuple[str, str]]:
    _publish_packls(proj)
    pipl_argv = [BIN / "pipl", "work", "create"]
    withs = [f"--with={name}" for name in PACKLS]
    timed([*pipl_argv, "warm-up", *withs], proj.env)  # fills uv's cache
    ours = [timed([*pipl_argv, f"ws{i}", *withs], proj.env) for i in range(ROUNDS)]

    def venv_pip(i: int) -> float:
        env_dir = tmp / f"venv{i}"
        start = time.perf_counter()
        timed([sys.executable, "-m", "venv", env_dir], proj.env)
        timed(
            [
                env_dir / "bin" / "pip",
                "install",
                "--quiet",
                "--index-url",
                proj.simple_url,
                *PACKLS,
            ],
            proj.env,
        )
        return time.perf_counter() - start

    venv_pip(-1)  # fills pip's cache
    theirs = [venv_pip(i) for i in range(max(2, ROUNDS // 2))]
    ratio = statistics.median(theirs) / statistics.median(ours)
    return [
        ("pipl work create --with 5 packls", summary(ours)),
        ("python -m venv + pip install (same 5)", summary(theirs)),
        ("speed-up", f"{ratio:.1f}x  (target: >= 10x, pipl under 2 s)"),
    ]


def bench_publish(proj: BenchProject) -> list[tuple[str, str]]:
    ws = proj.root / "workareas" / "default" / "authoring"
    packl_dir = ws / "packls" / PACKLS[0]
    builds, publishes = [], []
    for i in range(ROUNDS):
        pipl("packl", "bump", "patch", "--packl", PACKLS[0], "-w", "authoring", env=proj.env)
        builds.append(
            timed([BIN / "pipl", "packl", "build", "-p", PACKLS[0], "-w", "authoring"], proj.env)
        )
        pipl("packl", "bump", "patch", "--packl", PACKLS[0], "-w", "authoring", env=proj.env)
        publishes.append(
            timed([BIN / "pipl", "packl", "publish", "-p", PACKLS[0], "-w", "authoring"], proj.env)
        )
        del i
    backend_code = (
        "import sys, tempfile, flit_core.buildapi as b\n"
        "out = tempfile.mkdtemp()\n"
        "b.build_sdist(out); b.build_wheel(out)\n"
    )
    backend = (
        [
            timed([ws / ".venv" / "bin" / "python", "-c", backend_code], proj.env, cwd=packl_dir)
            for _ in range(ROUNDS)
        ]
        if _has_flit(ws)
        else []
    )
    if not backend:
        backend = [
            timed([sys.executable, "-c", backend_code], proj.env, cwd=packl_dir)
            for _ in range(ROUNDS)
        ]
    share = statistics.median(backend) / statistics.median(builds) * 100
    return [
        ("pipl packl build (sdist + wheel, uv)", summary(builds)),
        ("pipl packl publish (build + upload)", summary(publishes)),
        ("flit_core alone (own process)", summary(backend)),
        ("backend share of the build", f"{share:.0f}%"),
    ]


def _has_flit(ws: Path) -> bool:
    return any((ws / ".venv").glob("lib/python3*/site-packages/flit_core"))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, BenchProject(Path(tmp)) as proj:
        print_table(
            "workspace + 5 packls from the project index (warm caches)",
            bench_install(proj, Path(tmp)),
        )
        print_table("build and publish a small packl", bench_publish(proj))


if __name__ == "__main__":
    main()
