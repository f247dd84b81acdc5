"""Services and products in an environment with 200 installed packls.

A uv virtualenv gets pipl-pipe and 200 packls (100 products with manifests and asset
entry points, 99 libs with configs, one task depending on 5 of the products). Inside it,
timed from a fresh process: the first lookups (which scan the entry points once), the
same lookups again (cached), and the naive way (``importlib.metadata.entry_points()``
for every lookup). Then the scan itself, the same cached ``EntryPointIndex`` built two
ways: reading ``entry_points.txt`` with a hand-written parser, and with
importlib.metadata's own parsing (``dist.entry_points``), alternated in the same run.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import print_table

PROBE = r"""
import json, time
t0 = time.perf_counter()
from pipl_pipe.services import get_services
from pipl_pipe.products import get_product, products_required_by
from pipl_pipe.tasks import current_task
t1 = time.perf_counter()
store = get_services().asset_store
rigs = current_task().products(type="rig")
one = get_product("prod-042")
cfg = get_services().configs.get("lib-7")
t2 = time.perf_counter()
for _ in range(100):
    current_task().products(type="rig"); get_product("prod-042")
t3 = time.perf_counter()
import importlib.metadata as md
for _ in range(10):
    eps = [ep for ep in md.entry_points(group="pipl_pipe.product") if ep.name == "prod-042"]
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "cached": (t3 - t2) / 100,
                  "naive": (t4 - t3) / 10, "rigs": len(rigs), "dists": 0}))
"""

# One EntryPointIndex scan of the environment, its entry points read two ways: with the
# hand-written parser pipl-pipe once had, and as pipl-pipe reads them; the variant named
# first is also timed alone, as the first scan of a fresh process.
SCAN = r"""
import json, statistics, sys, time
from pipl_pipe.entrypoints import EntryPointIndex


def hand_parse(text):
    group = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip()
        elif group and "=" in line:
            name, _, value = line.partition("=")
            yield group, name.strip(), value.strip()


class Hand(EntryPointIndex):
    def _entry_points(self, dist):
        text = dist.read_text("entry_points.txt")
        return hand_parse(text) if text else ()


# pipl-pipe's own index reads entry points with importlib.metadata (dist.entry_points)
variants = {"hand": Hand, "stdlib": EntryPointIndex}


def scan(variant):
    start = time.perf_counter()
    index = variants[variant](sys.path)
    found = {g: len(index.group(g)) for g in ("pipl_pipe.product", "pipl_pipe.config")}
    return time.perf_counter() - start, found


first = sys.argv[1]
seconds, found = scan(first)
warm = {v: [] for v in variants}
for _ in range(20):
    for v in variants:
        took, same = scan(v)
        assert same == found, (v, same, found)
        warm[v].append(took)
print(json.dumps({"variant": first, "first": seconds, "found": found,
                  "warm": {v: statistics.median(t) for v, t in warm.items()}}))
"""


def _wheel(
    out: Path, name: str, files: dict[str, str], eps: dict[str, dict[str, str]], requires: list[str]
) -> None:
    from pipl.index.wheelpack import write_wheel

    module = name.replace("-", "_")
    metadata = "".join(
        [
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0.0\n",
            *(f"Requires-Dist: {r}\n" for r in requires),
        ]
    )
    dist_info = {"METADATA": metadata.encode()}
    if eps:
        dist_info["entry_points.txt"] = "".join(
            f"[{g}]\n" + "".join(f"{k} = {v}\n" for k, v in e.items()) + "\n"
            for g, e in eps.items()
        ).encode()
    write_wheel(
        out,
        name,
        "1.0.0",
        {f"{module}/{path}": text.encode() for path, text in files.items()},
        dist_info,
    )


def main() -> None:
    from pipl.index.wheelpack import pack_installed
    from pipl.uv import Uv

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wheels = work / "wheels"
        pack_installed("pipl-pipe", wheels)
        pack_installed("tomlkit", wheels)
        pack_installed("filelock", wheels)
        names = []
        for i in range(100):
            name = f"prod-{i:03d}"
            kind = "rig" if i % 2 else "model"
            manifest = {
                "format": "pipl-product/1",
                "name": name,
                "version": "1.0.0",
                "type": kind,
                "sources": [],
                "description": "",
                "assets": [
                    {
                        "name": "main",
                        "type": "file",
                        "sha256": "a" * 64,
                        "size": 1,
                        "kind": "file",
                        "suffix": "",
                    }
                ],
            }
            module = name.replace("-", "_")
            _wheel(
                wheels,
                name,
                {
                    "__init__.py": "from pipl_pipe.products import Product\n"
                    "PRODUCT = Product.from_package(__name__)\n",
                    "pipl_manifest.json": json.dumps(manifest),
                },
                {
                    "pipl_pipe.product": {name: f"{module}:PRODUCT"},
                    "pipl_pipe.asset": {f"{name}.main": f"{module}:PRODUCT.assets.main"},
                },
                ["pipl-pipe"],
            )
            names.append(name)
        for i in range(99):
            name = f"lib-{i}"
            module = name.replace("-", "_")
            _wheel(
                wheels,
                name,
                {"__init__.py": f"CONFIG = {{'n': {i}}}\n"},
                {"pipl_pipe.config": {name: f"{module}:CONFIG"}},
                ["pipl-pipe"],
            )
            names.append(name)
        _wheel(
            wheels,
            "shot-task",
            {
                "__init__.py": "from pipl_pipe.tasks import Task\n"
                "TASK = Task.declare('shot-task', 'x')\n"
            },
            {"pipl_pipe.task": {"shot-task": "shot_task:TASK"}},
            [f"prod-{i:03d}==1.0.0" for i in range(5)],
        )
        names.append("shot-task")
        uv = Uv()
        env = work / "env"
        uv.venv(env, sys.executable)
        uv.run(
            [
                "pip",
                "install",
                "--quiet",
                "--python",
                env / "bin" / "python",
                "--no-index",
                "--find-links",
                wheels,
                *names,
            ]
        )
        count = len(list((env / "lib").glob("python3*/site-packages/*.dist-info")))
        runs = []
        for _ in range(5):
            out = subprocess.run(
                [env / "bin" / "python", "-c", PROBE],
                capture_output=True,
                text=True,
                check=True,
                cwd=work,
                env={
                    "PATH": "/usr/bin:/bin",
                    "PIPL_ASSET_STORE": str(work / "store"),
                    "HOME": str(work),
                },
            )
            runs.append(json.loads(out.stdout))
        scans = [_scan(env, work, variant) for _ in range(7) for variant in ("hand", "stdlib")]
    best = {k: sorted(r[k] for r in runs)[len(runs) // 2] for k in runs[0]}
    print_table(
        f"lookups with {count} installed distributions (median of 5 processes)",
        [
            ("import pipl_pipe modules", f"{best['import'] * 1000:6.1f} ms"),
            (
                "first lookups (scan + service + typed query + product + config)",
                f"{best['first'] * 1000:6.1f} ms   (target < 100 ms)",
            ),
            ("same lookups again (cached)", f"{best['cached'] * 1000:6.2f} ms"),
            (
                "naive: importlib.metadata.entry_points() per lookup",
                f"{best['naive'] * 1000:6.1f} ms per lookup",
            ),
            ("rig products found by the typed query", str(runs[0]["rigs"])),
        ],
    )
    _print_scans(scans, count)


def _scan(env: Path, work: Path, variant: str) -> dict[str, Any]:
    out = subprocess.run(
        [env / "bin" / "python", "-c", SCAN, variant],
        capture_output=True,
        text=True,
        check=True,
        cwd=work,
        env={"PATH": "/usr/bin:/bin", "HOME": str(work)},
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _print_scans(scans: list[dict[str, Any]], count: int) -> None:
    """The scan's two ways side by side: first scan of a fresh process, then warm."""
    rows = []
    medians = {}
    for variant, label in (
        ("hand", "hand-written entry_points.txt parser"),
        ("stdlib", "importlib.metadata's parsing (dist.entry_points)"),
    ):
        first = statistics.median(s["first"] for s in scans if s["variant"] == variant)
        warm = statistics.median(s["warm"][variant] for s in scans)
        medians[variant] = (first, warm)
        rows.append((label, f"{first * 1000:6.1f} ms first, {warm * 1000:6.2f} ms warm"))
    first_gain = medians["stdlib"][0] - medians["hand"][0]
    warm_gain = medians["stdlib"][1] - medians["hand"][1]
    rows.append(
        (
            "hand parser saves",
            f"{first_gain * 1000:6.1f} ms first ({first_gain / medians['stdlib'][0]:.0%}), "
            f"{warm_gain * 1000:6.2f} ms warm ({warm_gain / medians['stdlib'][1]:.0%})",
        )
    )
    found = scans[0]["found"]
    rows.append(("entry points found (products, configs)", f"{found}"))
    print_table(
        f"EntryPointIndex scan of {count} distributions, two ways "
        "(median of 7 fresh processes each, alternated; warm: median of 20 scans each)",
        rows,
    )


if __name__ == "__main__":
    main()
