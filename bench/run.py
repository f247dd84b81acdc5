"""Run the benchmarks: ``python bench/run.py [NAME ...]`` (default: all)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCHES = {
    "project": "bench.bench_project",
    "workspace": "bench.bench_workspace",
    "assets": "bench.bench_assets",
    "assets-s3": "bench.bench_assets:s3_main",
    "lookup": "bench.bench_lookup",
    "ci": "bench.bench_ci",
    "ci-start": "bench.bench_ci:start_main",
    "ci-loop": "bench.bench_ci:loop_main",
    "ci-dask": "bench.bench_ci_dask",
    "flow": "bench.bench_flow",
    "pipe-inputs": "bench.bench_inputs",
    "sandbox": "bench.bench_sandbox",
    "mirror": "bench.bench_mirror",
    "storage": "bench.bench_storage",
    "replica": "bench.bench_storage:replica_main",
    "pipe": "bench.bench_pipe",
    "web-pipelines": "bench.bench_web_pipelines",
    "web-jobs": "bench.bench_web_jobs",
    "web": "bench.bench_web",
    "web-releases": "bench.bench_web_releases",
    "workers": "bench.bench_workers",
    "refactor": "bench.bench_refactor",
}


def main(argv: list[str]) -> None:
    chosen = argv or list(BENCHES)
    for name in chosen:
        if name not in BENCHES:
            sys.exit(f"unknown benchmark {name!r}; choose from {', '.join(BENCHES)}")
        module, _, func = BENCHES[name].partition(":")
        getattr(importlib.import_module(module), func or "main")()


if __name__ == "__main__":
    main(sys.argv[1:])
