"""Pipelines: ``knights -> melt; quality -> melt; melt -> summary;`` at growing sizes.

N knights and M qualities are pushed inputs; melt writes each pair into a file; summary
(``group_by "0"``) gathers all melts. For each size: the first run end to end (a fresh
process, 2 workers), peak memory, a re-run with nothing changed, a dry run after a change
of melt's parameters (it must list all melts and the summary to run, naming params as
what changed; the call, and a fresh process end to end), and one new knight (only its M
melts, and the summary, run). Beside it, in the same run: the floor (one plain Python
process writing the same instance folders with a data file and a SQLite row each) and
Snakemake with shell rules on the same DAG, installed into a throwaway venv.

Then code under development: ``source -> fit -> report;`` where only ``fit`` imports a
library installed editable, first listed by path in fit's own environment (``"env":
["../mylib"]``), then installed editable in the default environment; after a first run, a
re-run with nothing changed, one after touching only caches (``__pycache__``, ``.git``), and
one after an edit to the library: only fit and report run again (a real project index,
offline, resolves the environments).

Sizes: env PIPL_BENCH_PIPE_SIZES (default "100x100,100x1000"), Snakemake's size:
PIPL_BENCH_PIPE_SNAKE (default 30, so 900 melts; 0 skips it), instances per segment of the
editable-library pipeline: PIPL_BENCH_PIPE_EDITABLE (default 300; 0 skips it).
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

from bench.common import BIN, BenchProject, print_table

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


EDIT_DOT = "source -> fit -> report;"
EDIT_SEGMENTS = {
    "source": "set_output(get_input())\n",
    "fit": "import mylib\nset_output(mylib.scale(get_input('source')))\n",
    "report": "open(get_data_fn('fit.txt'), 'w').write(str(get_input('fit')))\n",
}
EDIT_DRIVER = """
import json, sys
from pathlib import Path
from pipl.pipe import Pipeline, run
root, prefix, index, n, python = sys.argv[1:6]
own = python == "-"  # fit lists ../mylib in its own environment
p = Pipeline(EDIT_DOT, Path(root) / "code", Path(prefix), root=Path(root), index_url=index,
             segments={"fit": {"env": ["../mylib"]}} if own else {}, python="" if own else python)
p.push(source=list(range(int(n))))
r = run(p, jobs=2)
print(json.dumps({"ok": r.ok, "ran": {s.name: s.ran for s in r.segments},
                  "reused": {s.name: s.reused for s in r.segments}}))
"""


def _mylib(folder: Path, factor: int) -> None:
    (folder / "mylib").mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["flit_core>=3.12,<5"]\n'
        'build-backend = "flit_core.buildapi"\n'
        '[project]\nname = "mylib"\nversion = "0.1.0"\ndescription = "developed here"\n'
    )
    (folder / "mylib" / "__init__.py").write_text(f"def scale(x):\n    return {factor} * x\n")


def _edit_run(root: Path, prefix: Path, index: str, n: int, python: str, env: dict) -> tuple:
    start = time.perf_counter()
    driver = EDIT_DRIVER.replace("EDIT_DOT", repr(EDIT_DOT))
    argv = [sys.executable, "-c", driver, str(root), str(prefix), index, str(n), python]
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"pipl run failed:\n{done.stderr[-2000:]}")
    took = time.perf_counter() - start
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"], result
    return took, result["ran"], result["reused"]


def _editable_rows(proj: BenchProject, tmp: Path, n: int, mode: str) -> list[tuple[str, str]]:
    """First run, no change, caches touched, library edited: times and what ran."""
    root = tmp / mode / "pipe"
    (root / "code").mkdir(parents=True)
    for name, source in EDIT_SEGMENTS.items():
        (root / "code" / f"{name}.py").write_text(source)
    lib = tmp / mode / "mylib"
    _mylib(lib, 2)
    env = {**proj.env, "PIPL_PIPE_INDEX": proj.simple_url}
    python = "-"
    if mode == "default":  # a venv where segments run, mylib installed editable in it
        venv = tmp / mode / "venv"
        uv = str(BIN / "uv")
        quiet = {"check": True, "env": env, "capture_output": True}
        subprocess.run([uv, "venv", "--python", sys.executable, venv], **quiet)
        python = str(venv / "bin" / "python")
        install = [uv, "pip", "install", "--python", python, "--index-url", proj.simple_url]
        subprocess.run([*install, "pipl-pipe", "-e", lib], **quiet)
    prefix = tmp / mode / "data"
    rows = []

    def step(label: str) -> dict[str, int]:
        took, ran, reused = _edit_run(root, prefix, proj.simple_url, n, python, env)
        what = ", ".join(f"{k} {ran[k]} ran/{reused[k]} reused" for k in EDIT_SEGMENTS)
        rows.append((label, f"{took:.2f} s  ({what})"))
        return ran

    ran = step("first run")
    assert ran == {"source": n, "fit": n, "report": n}, ran
    assert sum(step("re-run, nothing changed").values()) == 0
    (lib / "mylib" / "__pycache__").mkdir(exist_ok=True)
    (lib / "mylib" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"cache")
    (lib / ".git").mkdir(exist_ok=True)
    (lib / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert sum(step("re-run, only caches touched").values()) == 0
    _mylib(lib, 3)
    ran = step("re-run after an edit to mylib")
    assert ran == {"source": 0, "fit": n, "report": n}, ran
    return rows


def _editable(tmp: Path, n: int) -> None:
    with BenchProject(tmp / "editable") as proj:
        for mode, title in (
            ("own", 'fit lists "../mylib" in its own environment'),
            ("default", "mylib installed editable where segments run by default"),
        ):
            print_table(
                f"an editable library used by fit only ({title}); {n} instances a segment",
                _editable_rows(proj, tmp / "editable", n, mode),
            )


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
    editable_n = int(os.environ.get("PIPL_BENCH_PIPE_EDITABLE", "300"))
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
        if editable_n:
            _editable(tmp, editable_n)
