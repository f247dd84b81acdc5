"""Two checkouts of pipl side by side, measured in the same run: before and after a change.

``PIPL_BENCH_BEFORE=/path/to/old/checkout python bench/run.py refactor`` (the "after" tree
is this checkout, or ``PIPL_BENCH_AFTER``). Each checkout needs its own ``.venv`` (``make
install`` there); everything is driven through that environment's ``pipl`` command line
and plain HTTP, never by importing pipl, so the same code measures trees whose internals
differ. Figures, for each tree:

- modules and lines (every line, and the non-blank ones) of the ``.py`` files under
  ``pipl/api``, ``pipl/web`` and ``pipl/ci`` (recursive), together and floor by floor;
- CI job start-up: one offline project per tree (``pipl proj create --no-pypi``, its server
  and runner started by ``pipl proj start --detach``, 2 workers) with an index running the
  ``webhook`` handler with no URL (a job that does no work). ``START_N`` wheels are uploaded
  to it, one tree then the other, each followed by a pause longer than such a job takes.
  From each job: the runner starting its process -> its handler running (the ``phase
  start-up took`` line of its log), the runner claiming it -> its exit recorded (the job's
  ``seconds`` in ``pipl ci list --json``: for a job that does nothing, the cost of starting
  one), and queued -> claimed;
- the CI loop: the sdist of a task packl uploaded to ``dev`` -> its product's wheel on
  ``qa`` (polled on the simple page) -> a plain ``uv pip install`` of it from ``qa`` done,
  the stage's own handlers at work (wheel, QA, promote, process); ``LOOP_N`` runs per tree
  after one that warms the caches, the trees taking turns; ``pipl ci wait`` between runs.

The trees take turns sample by sample (the first of each round alternates), so both meet
the same load on a shared machine. ``PIPL_BENCH_START_N`` (default 20) and
``PIPL_BENCH_LOOP_N`` (default 7) set the sample counts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from base64 import urlsafe_b64encode
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # ci_support: the CI tests' task packl
FLOORS = ("pipl/api", "pipl/web", "pipl/ci")
START_N = int(os.environ.get("PIPL_BENCH_START_N", "20"))
LOOP_N = int(os.environ.get("PIPL_BENCH_LOOP_N", "7"))
SPACING = 1.5  # seconds after an upload: more than a job that does nothing takes
LOOP_STAGE = "qa"  # where a product lands (the gate of prod waits for an approval)
FAST_ARGON2 = [
    "--server-arg=--argon2-memory-cost",
    "--server-arg=8",
    "--server-arg=--argon2-time-cost",
    "--server-arg=1",
    "--server-arg=--argon2-parallelism",
    "--server-arg=1",
]
STARTUP_LINE = re.compile(r"phase start-up took ([0-9.]+) s")


class BenchError(Exception):
    """A tree cannot be measured: the message says which and why."""


# -- counting code -------------------------------------------------------------------------
def count_code(tree: Path, floors: Sequence[str] = FLOORS) -> tuple[int, int, int]:
    """Modules, lines and non-blank lines of the ``.py`` files under ``floors``."""
    modules = lines = nonblank = 0
    for floor in floors:
        for path in sorted((tree / floor).rglob("*.py")):
            text = path.read_text(encoding="utf-8").splitlines()
            modules += 1
            lines += len(text)
            nonblank += sum(1 for line in text if line.strip())
    return modules, lines, nonblank


# -- files to upload -----------------------------------------------------------------------
def _record_hash(data: bytes) -> str:
    digest = urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def make_wheel(dest: Path, name: str, version: str) -> Path:
    """A pure-Python wheel of one module, written directly."""
    module = name.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: bench\n"
        ).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


def task_sdist(venv_bin: Path, tmp: Path, name: str) -> Path:
    """The sdist of a task packl whose processing publishes ``NAME-report`` (built offline
    with flit_core from ``venv_bin``'s environment)."""
    from ci_support import TASK_MODULE, TASK_PYPROJECT  # the CI tests' task packl

    module = name.replace("-", "_")
    src = tmp / "src" / name
    (src / module).mkdir(parents=True)
    pyproject = TASK_PYPROJECT.format(name=name, version="0.1.0", module=module)
    (src / "pyproject.toml").write_text(pyproject)
    (src / module / "__init__.py").write_text(TASK_MODULE.format(name=name, ok=True))
    out = tmp / "dist"
    argv = [venv_bin / "uv", "build", "--sdist", "--no-build-isolation", "--quiet"]
    argv += ["--python", venv_bin / "python", "--out-dir", out, src]
    subprocess.run([str(a) for a in argv], check=True, capture_output=True, cwd=tmp)
    return next(out.glob(f"{module}-0.1.0.tar.gz"))


# -- one tree's project --------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TreeProject:
    """An offline project run by one checkout's own environment, through its CLI."""

    label: str
    tree: Path
    tmp: Path
    setup_seconds: float = 0.0
    url: str = ""
    name: str = "proj"
    sent: dict[str, float] = field(default_factory=dict)  # wheel name -> upload started

    @property
    def bin(self) -> Path:
        return self.tree / ".venv" / "bin"

    @property
    def root(self) -> Path:
        return self.tmp / self.name

    def env(self) -> dict[str, str]:
        """This machine's pip, uv and pipl settings left out, this tree's commands first.
        Commands run in the project's parent folder: ``python -m pipl`` (as the runner
        starts itself) would import the pipl of a checkout it was started in."""
        skip = ("PIP_", "UV_", "PIPL_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
        env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
        env.update(
            HOME=str(self.tmp / "home"),
            XDG_CONFIG_HOME=str(self.tmp / "home" / ".config"),
            PIP_CONFIG_FILE=os.devnull,
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            UV_NO_CONFIG="1",
            UV_CACHE_DIR=str(self.tmp / "uv-cache"),
            PIPL_PROJECT=str(self.root),
            PATH=f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        return env

    def run(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``pipl ARGS`` of this tree; a failure names the tree, the command and its error."""
        argv = [str(self.bin / "pipl"), *map(str, args)]
        done = subprocess.run(argv, env=self.env(), cwd=self.tmp, text=True, capture_output=True)
        if check and done.returncode:
            last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
            raise BenchError(f"{self.label}: pipl {' '.join(argv[1:])} failed: {last}")
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)["data"]

    def __enter__(self) -> TreeProject:
        if not (self.bin / "pipl").exists():
            raise BenchError(f"{self.label}: no {self.bin / 'pipl'}: run 'make install' there")
        self.tmp.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        self.run("proj", "create", self.root, "--no-pypi", "--port", str(free_port()), *FAST_ARGON2)
        try:
            self.run("proj", "start", "--detach")
            self.run("proj", "index", "create-default")
            self.setup_seconds = time.perf_counter() - t0
            self.url = str(self.json("proj", "status")["url"]).rstrip("/")
            self.run(
                "proj", "index", "create", f"{self.name}/lat", "--bases", f"{self.name}/base",
                "--handlers", "webhook", "--non-volatile",
            )  # fmt: skip
        except BaseException:  # a server started (the runner may not have): stop it
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.run("proj", "stop", check=False)

    def upload(self, file: Path, to: str) -> None:
        self.run("proj", "index", "upload", file, "--to", to)

    def wait_jobs(self) -> None:
        self.run("ci", "wait", "--timeout", "600")

    def jobs(self, index: str) -> list[dict[str, Any]]:
        # at most 500 (the operation's bound): more than the bench makes on one index
        found: list[dict[str, Any]] = self.json("ci", "list", "--index", index, "--limit", "500")
        return found

    def log(self, job_id: int) -> str:
        return self.run("ci", "logs", str(job_id)).stdout

    def simple(self, stage: str) -> str:
        return f"{self.url}/{self.name}/{stage}/+simple/"


def in_turn(projects: list[TreeProject], n: int) -> list[tuple[int, TreeProject]]:
    """``n`` rounds of the trees taking turns, the first of a round alternating."""
    order = []
    for i in range(n):
        for project in projects if i % 2 == 0 else projects[::-1]:
            order.append((i, project))
    return order


def p50(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


# -- job start-up --------------------------------------------------------------------------
def job_startup(projects: list[TreeProject], tmp: Path) -> dict[str, dict[str, list[float]]]:
    """Per tree: the start-up of ``START_N`` jobs that do nothing, uploaded in turns."""
    for i, project in in_turn(projects, START_N):
        wheel = make_wheel(tmp / "wheels" / str(i), f"lat{i}", "1.0")
        project.sent[f"lat{i}"] = time.time()
        project.upload(wheel, f"{project.name}/lat")
        time.sleep(SPACING)
    found: dict[str, dict[str, list[float]]] = {}
    for project in projects:
        project.wait_jobs()
        jobs = [j for j in project.jobs(f"{project.name}/lat") if j["state"] == "passed"]
        if len(jobs) < START_N:
            raise BenchError(f"{project.label}: {len(jobs)} of {START_N} webhook jobs passed")
        spawn = []
        for job in jobs:
            m = STARTUP_LINE.search(project.log(job["id"]))
            if m:
                spawn.append(float(m.group(1)))
        found[project.label] = {
            "spawn": spawn,
            "claim_exit": [j["seconds"] for j in jobs],
            "queued": [j["started"] - j["created"] for j in jobs],
            "upload_start": [j["started"] - project.sent[j["project"]] for j in jobs],
        }
    return found


# -- the CI loop ---------------------------------------------------------------------------
def product_on(project: TreeProject, product: str, deadline: float) -> float:
    """Poll the stage's simple page until ``product`` has a wheel there; when it had."""
    page = project.simple(LOOP_STAGE) + product + "/"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(page, timeout=10) as answer:  # noqa: S310 (loopback)
                if ".whl" in answer.read().decode():
                    return time.time()
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
        time.sleep(0.05)
    raise BenchError(f"{project.label}: {product} never reached {LOOP_STAGE}")


def one_loop(project: TreeProject, sdist: Path, name: str, tmp: Path) -> tuple[float, float]:
    """Upload ``sdist`` to dev; seconds until the product's wheel is on ``LOOP_STAGE``, and
    until a plain ``uv pip install`` of it from there is done."""
    venv = tmp / project.label / f"install-{name}"
    uv = str(project.bin / "uv")
    env = project.env()
    subprocess.run(
        [uv, "venv", "--quiet", "--python", str(project.bin / "python"), str(venv)],
        check=True,
        env=env,
        cwd=project.tmp,
    )
    t0 = time.time()
    project.upload(sdist, f"{project.name}/dev")
    visible = product_on(project, f"{name}-report", time.monotonic() + 600) - t0
    argv = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    argv += ["--index-url", project.simple(LOOP_STAGE), f"{name}-report==0.1.0"]
    subprocess.run(argv, check=True, env=env, cwd=project.tmp, capture_output=True)
    installed = time.time() - t0
    project.wait_jobs()
    return visible, installed


def ci_loop(projects: list[TreeProject], tmp: Path) -> dict[str, dict[str, list[float]]]:
    """Per tree: ``LOOP_N`` runs of the loop after one that warms the caches, in turns;
    then each job's seconds, by handler and index, in the order they ran."""
    names = ["bench-warm"] + [f"bench-task{i}" for i in range(LOOP_N)]
    sdists = {name: task_sdist(projects[-1].bin, tmp, name) for name in names}
    found: dict[str, dict[str, list[float]]] = {
        p.label: {"visible": [], "installed": []} for p in projects
    }
    for i, project in in_turn(projects, len(names)):
        visible, installed = one_loop(project, sdists[names[i]], names[i], tmp)
        if i:  # the first run warms the caches
            found[project.label]["visible"].append(visible)
            found[project.label]["installed"].append(installed)
    for project in projects:
        jobs = project.jobs(f"{project.name}/dev") + project.jobs(f"{project.name}/{LOOP_STAGE}")
        for job in sorted(jobs, key=lambda j: j["started"] or 0.0):
            if re.fullmatch(r"bench-task\d+(-report)?", job["project"]) and job["seconds"]:
                whose = " (the product)" if job["project"].endswith("-report") else ""
                key = f"job {job['handler']} on {job['index']}{whose}"
                found[project.label].setdefault(key, []).append(job["seconds"])
    return found


# -- the table -----------------------------------------------------------------------------
def row(label: str, values: list[float], unit: str, digits: int) -> tuple[str, ...]:
    """One line of the table: a value per tree, then the last's change from the first."""
    cells = [f"{v:.{digits}f}{unit}" for v in values]
    first, last = values[0], values[-1]
    change = f"{(last - first) / first * 100:+.0f}%" if first else ""
    return (label, *cells, change)


def print_rows(
    title: str, header: list[str], rows: Sequence[tuple[str, ...]], *, numbers: bool = True
) -> None:
    """A titled table; cells after the first right-aligned when they are ``numbers``."""
    widths = [max(len(r[c]) for r in [tuple(header), *rows]) for c in range(len(header))]
    print(f"\n## {title}")
    for r in [tuple(header), *rows]:
        cells = [
            cell.rjust(w) if numbers else cell.ljust(w)
            for cell, w in zip(r[1:], widths[1:], strict=True)
        ]
        print(f"  {r[0].ljust(widths[0])}  {'  '.join(cells)}".rstrip())


def commit(tree: Path) -> str:
    """The checkout's commit, ``+`` when it has changes not committed."""
    git = ["git", "-C", str(tree)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "--", *FLOORS], capture_output=True)
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "") or tree.name


def trees_asked() -> dict[str, Path]:
    """The two checkouts, from ``PIPL_BENCH_BEFORE`` and ``PIPL_BENCH_AFTER`` (default:
    this one); exits with one line when one is missing or not a pipl checkout."""
    before = os.environ.get("PIPL_BENCH_BEFORE")
    if not before:
        sys.exit(
            "PIPL_BENCH_BEFORE is not set: give the checkout to compare with, for example "
            "'git worktree add ../before COMMIT && (cd ../before && make install)', then "
            "PIPL_BENCH_BEFORE=../before python bench/run.py refactor"
        )
    trees = {
        "before": Path(before).resolve(),
        "after": Path(os.environ.get("PIPL_BENCH_AFTER") or ROOT).resolve(),
    }
    for label, tree in trees.items():
        if not (tree / "pipl" / "ci").is_dir():
            sys.exit(f"{label} tree {tree} is not a pipl checkout (no pipl/ci folder)")
    return trees


def measure(trees: dict[str, Path]) -> tuple[list[TreeProject], dict[str, Any], dict[str, Any]]:
    """Both projects up, then job start-up and the CI loop, the trees in turn."""
    with (
        tempfile.TemporaryDirectory(prefix="pipl-bench-refactor-") as tmp_name,
        ExitStack() as stack,
    ):
        tmp = Path(tmp_name)
        try:
            projects = [
                stack.enter_context(TreeProject(label, tree, tmp / label))
                for label, tree in trees.items()
            ]
            return projects, job_startup(projects, tmp), ci_loop(projects, tmp)
        except BenchError as exc:
            sys.exit(f"bench refactor: {exc}")


def table(
    trees: dict[str, Path],
    projects: list[TreeProject],
    starts: dict[str, dict[str, list[float]]],
    loops: dict[str, dict[str, list[float]]],
) -> list[tuple[str, ...]]:
    """The rows of the headline table: code size, job start-up, the CI loop and its jobs."""
    labels = list(trees)
    code = [count_code(trees[label]) for label in labels]

    def p50s(
        source: dict[str, dict[str, list[float]]], key: str, scale: float = 1.0
    ) -> list[float]:
        return [p50(source[label].get(key, [])) * scale for label in labels]

    rows = [
        row(f"modules in {', '.join(FLOORS)}", [float(c[0]) for c in code], "", 0),
        row("lines (all)", [float(c[1]) for c in code], "", 0),
        row("lines (non-blank)", [float(c[2]) for c in code], "", 0),
    ]
    for floor in FLOORS:
        each = [count_code(trees[label], [floor]) for label in labels]
        rows.append(row(f"  {floor}: modules", [float(c[0]) for c in each], "", 0))
        rows.append(row(f"  {floor}: lines", [float(c[1]) for c in each], "", 0))
    rows += [
        row(
            "job start-up p50: claimed -> exit recorded", p50s(starts, "claim_exit", 1e3), " ms", 0
        ),
        row("job start-up p50: spawned -> handler runs", p50s(starts, "spawn", 1e3), " ms", 0),
        row("job queued -> claimed p50", p50s(starts, "queued", 1e3), " ms", 0),
        row("upload started -> job claimed p50", p50s(starts, "upload_start", 1e3), " ms", 0),
        row(
            f"CI loop p50: upload -> installed from {LOOP_STAGE}", p50s(loops, "installed"), " s", 2
        ),
        row(f"  of which: product's wheel on {LOOP_STAGE}", p50s(loops, "visible"), " s", 2),
    ]
    jobs = list(dict.fromkeys(k for v in loops.values() for k in v if k.startswith("job ")))
    rows += [row(f"  {k} p50", p50s(loops, k), " s", 2) for k in jobs]
    setup = [p.setup_seconds for p in projects]
    rows.append(row("project create + start + create-default", setup, " s", 1))
    return rows


def samples(
    labels: list[str],
    starts: dict[str, dict[str, list[float]]],
    loops: dict[str, dict[str, list[float]]],
) -> list[tuple[str, str]]:
    """Every sample behind the two headline figures, sorted: how much they scatter."""
    found = []
    for label in labels:
        claim = ", ".join(f"{v * 1e3:.0f}" for v in sorted(starts[label]["claim_exit"]))
        loop = ", ".join(f"{v:.2f}" for v in sorted(loops[label]["installed"]))
        found += [(f"{label}: job claimed -> exit (ms)", claim), (f"{label}: CI loop (s)", loop)]
    return found


def main() -> None:
    trees = trees_asked()
    t_run = time.perf_counter()
    projects, starts, loops = measure(trees)
    took = time.perf_counter() - t_run
    header = ["", *(f"{label} ({commit(tree)})" for label, tree in trees.items()), "change"]
    print_rows(
        f"before and after, same run, trees in turn ({START_N} start-up jobs, {LOOP_N} loops "
        f"per tree; this run took {took:.0f} s)",
        header,
        table(trees, projects, starts, loops),
    )
    print_rows(
        "the samples behind the headline figures",
        ["", "sorted"],
        samples(list(trees), starts, loops),
        numbers=False,
    )


if __name__ == "__main__":
    main()
