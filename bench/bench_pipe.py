"""Pipelines: ``knights -> melt; quality -> melt; melt -> summary;`` at growing sizes.

N knights and M qualities are pushed inputs; melt writes each pair into a file; summary
(``group_by "0"``) gathers all melts. For each size: the first run end to end (a fresh
process, 2 workers), peak memory, a re-run with nothing changed, a dry run after a change
of melt's parameters (it must list all melts and the summary to run, naming params as
what changed; the call, and a fresh process end to end), and one new knight (only its M
melts, and the summary, run). Beside it, in the same run: the floor (one plain Python
process writing the same instance folders with a data file and a SQLite row each) and
Snakemake with shell rules on the same DAG, installed into a throwaway venv.

Sizes: env PIPL_BENCH_PIPE_SIZES (default "100x100,100x1000"), Snakemake's size:
PIPL_BENCH_PIPE_SNAKE (default 30; 0 skips it).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import BIN, print_table

SEGMENTS = {
    "knights": "seg_output = [get_input()]\n",
    "quality": "seg_output = [get_input()]\n",
    "melt": (
        'knight, quality = get_input("knights"), get_input("quality")\n'
        'with open(get_data_fn("result.txt"), "w") as f:\n'
        '    f.write(knight + " " + quality + "\\n")\n'
        'set_output(knight + " " + quality)\n'
    ),
    "summary": (
        '#multiplex cross_prod group_by "0"\n'
        'with open(get_data_fn("summary.txt"), "w") as f:\n'
        '    f.write("\\n".join(get_input("melt")) + "\\n")\n'
    ),
}

DRIVER = """
import json, resource, sys, time
from pathlib import Path
from pipl.pipe import Pipeline, run
code, prefix = sys.argv[1], sys.argv[2]
n, m, jobs = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
p = Pipeline("knights -> melt; quality -> melt; melt -> summary;", Path(code), Path(prefix))
p.push(knights=[f"knight{i}" for i in range(n)], quality=[f"quality{j}" for j in range(m)])
r = run(p, jobs=jobs)
ru_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
ru_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"ok": r.ok, "ran": {s.name: s.ran for s in r.segments},
                  "rss_mib": (ru_self + jobs * ru_child) / 1024}))
"""

DRY_DRIVER = """
import json, sys, time
start = time.perf_counter()
from pathlib import Path
from pipl.pipe import Pipeline, dry_run
code, prefix, n, m = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
p = Pipeline("knights -> melt; quality -> melt; melt -> summary;", Path(code), Path(prefix),
             segments={"melt": {"params": {"sep": "-"}}})
p.push(knights=[f"knight{i}" for i in range(n)], quality=[f"quality{j}" for j in range(m)])
ready = time.perf_counter()
plan = dry_run(p)
done = time.perf_counter()
print(json.dumps({"setup": ready - start, "dry": done - ready,
                  "to_run": {s.name: s.to_run for s in plan.segments},
                  "changed": {s.name: s.changed for s in plan.segments}}))
"""

SNAKEFILE = """
KN = [f"knight{i}" for i in range(int(config["nk"]))]
QU = [f"quality{j}" for j in range(int(config["nq"]))]

rule all:
    input: "summary.txt"

rule knights:
    output: "knights/{k}.txt"
    shell: "echo {wildcards.k} > {output}"

rule quality:
    output: "quality/{q}.txt"
    shell: "echo {wildcards.q} > {output}"

rule melt:
    input: k="knights/{k}.txt", q="quality/{q}.txt"
    output: "melt/{k}__{q}.txt"
    shell: "cat {input.k} {input.q} > {output}"

rule summary:
    input: expand("melt/{k}__{q}.txt", k=KN, q=QU)
    output: "summary.txt"
    shell: "cat melt/*.txt > {output}"
"""


def _pipl(code: Path, prefix: Path, n: int, m: int, jobs: int = 2) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(code), str(prefix), str(n), str(m), str(jobs)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"pipl run failed ({n}x{m}):\n{done.stderr[-2000:]}")
    out = done.stdout
    took = time.perf_counter() - start
    result = json.loads(out.strip().splitlines()[-1])
    assert result["ok"], result
    return took, result


def _dry(code: Path, prefix: Path, n: int, m: int) -> tuple[float, dict]:
    """A dry run after one parameter change (melt's): end to end in a fresh process, and
    the ``dry_run`` call itself."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", DRY_DRIVER, str(code), str(prefix), str(n), str(m)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"pipl dry run failed ({n}x{m}):\n{done.stderr[-2000:]}")
    took = time.perf_counter() - start
    return took, json.loads(done.stdout.strip().splitlines()[-1])


def _floor(folder: Path, count: int) -> float:
    """One plain process: a folder, a data file and a SQLite row per instance."""
    start = time.perf_counter()
    folder.mkdir()
    db = sqlite3.connect(folder / "floor.sqlite")
    db.execute("CREATE TABLE t (name TEXT PRIMARY KEY, value TEXT)")
    rows = []
    for i in range(count):
        d = folder / f"i{i}"
        d.mkdir()
        (d / "result.txt").write_text(f"knight quality {i}\n")
        rows.append((f"i{i}", "x"))
    db.executemany("INSERT INTO t VALUES (?, ?)", rows)
    db.commit()
    db.close()
    return time.perf_counter() - start


def _snakemake_venv(tmp: Path) -> Path | None:
    venv = tmp / "snake-venv"
    uv = BIN / "uv"
    try:
        subprocess.run(
            [str(uv), "venv", "--python", sys.executable, str(venv)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [str(uv), "pip", "install", "--python", str(venv / "bin" / "python"), "snakemake"],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as exc:
        print(f"  (snakemake not installed: {exc.stderr.decode()[-300:]})")
        return None
    return venv / "bin" / "snakemake"


def _snakemake(exe: Path, folder: Path, n: int) -> float:
    folder.mkdir(exist_ok=True)
    (folder / "Snakefile").write_text(SNAKEFILE)
    start = time.perf_counter()
    subprocess.run(
        [str(exe), "--cores", "2", "--config", f"nk={n}", f"nq={n}"],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> None:
    sizes = os.environ.get("PIPL_BENCH_PIPE_SIZES", "100x100,100x1000")
    snake_n = int(os.environ.get("PIPL_BENCH_PIPE_SNAKE", "30"))
    base = Path(os.environ.get("PIPL_BENCH_DIR") or tempfile.gettempdir())
    with tempfile.TemporaryDirectory(dir=base) as tmp_name:
        tmp = Path(tmp_name)
        code = tmp / "code"
        code.mkdir()
        for name, source in SEGMENTS.items():
            (code / f"{name}.py").write_text(source)
        for size in filter(None, sizes.split(",")):
            n, m = (int(x) for x in size.split("x"))
            prefix = tmp / f"data-{size}"
            first, result = _pipl(code, prefix, n, m)
            assert result["ran"]["melt"] == n * m
            again, rerun = _pipl(code, prefix, n, m)
            assert sum(rerun["ran"].values()) == 0, rerun
            dry_total, dry = _dry(code, prefix, n, m)
            assert dry["to_run"] == {"knights": 0, "quality": 0, "melt": n * m, "summary": 1}, dry
            assert dry["changed"]["melt"] == ["params"], dry
            plus, added = _pipl(code, prefix, n + 1, m)
            assert added["ran"] == {"knights": 1, "quality": 0, "melt": m, "summary": 1}, added
            floor = _floor(tmp / f"floor-{size}", n * m)
            print_table(
                f"pipeline, {n} knights x {m} qualities = {n * m:,} melt instances (2 workers)",
                [
                    ("first run, end to end", f"{first:.2f} s ({n * m / first:,.0f} inst/s)"),
                    ("peak memory (engine + workers)", f"{result['rss_mib']:.0f} MiB"),
                    ("re-run, nothing changed", f"{again:.2f} s"),
                    (
                        "dry run after a melt parameter change",
                        f"{dry['dry']:.2f} s ({dry_total:.2f} s end to end)",
                    ),
                    ("one new knight (ran)", f"{plus:.2f} s ({added['ran']['melt']} melts)"),
                    ("floor: plain Python, same folders", f"{floor:.2f} s"),
                ],
            )
            shutil.rmtree(prefix)
            shutil.rmtree(tmp / f"floor-{size}")
        if snake_n:
            exe = _snakemake_venv(tmp)
            jobs = snake_n * snake_n + 2 * snake_n + 1
            prefix = tmp / f"data-snake-{snake_n}"
            pipl_first, _ = _pipl(code, prefix, snake_n, snake_n)
            pipl_again, _ = _pipl(code, prefix, snake_n, snake_n)
            rows = [
                ("pipl: first run", f"{pipl_first:.2f} s"),
                ("pipl: re-run, nothing changed", f"{pipl_again:.2f} s"),
            ]
            if exe is not None:
                snake_first = _snakemake(exe, tmp / "snake", snake_n)
                snake_again = _snakemake(exe, tmp / "snake", snake_n)
                rows += [
                    ("snakemake: first run", f"{snake_first:.2f} s"),
                    ("snakemake: re-run, nothing changed", f"{snake_again:.2f} s"),
                    ("ratio first run (snakemake / pipl)", f"{snake_first / pipl_first:.1f}x"),
                    ("ratio re-run (snakemake / pipl)", f"{snake_again / pipl_again:.1f}x"),
                ]
            print_table(
                f"pipl vs Snakemake (shell rules), N = M = {snake_n}: {jobs} jobs, 2 cores",
                rows,
            )
