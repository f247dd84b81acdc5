"""Helpers for the pipeline tests: small pipelines written into a folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipl.pipe import Pipeline

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def scripts(folder: Path, **sources: str) -> Path:
    """Write segment scripts ``NAME.py`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in sources.items():
        (folder / f"{name}.py").write_text(source)
    return folder


KNIGHTS = {
    "knights": "seg_output = [get_input()]\n",
    "quality": "set_output(['the Brave', 'the Pure'])\n",
    "melt": (
        "knight, quality = get_input('knights'), get_input('quality')\n"
        "open(get_data_fn('result.txt'), 'w').write(knight + ' ' + quality + '\\n')\n"
        "logger.info('melting %s', knight)\n"
        "set_output(knight + ' ' + quality)\n"
    ),
    "summary": (
        '#multiplex cross_prod group_by "0"\n'
        "open(get_data_fn('all.txt'), 'w').write('\\n'.join(sorted(get_input('melt'))))\n"
    ),
}
KNIGHTS_DOT = "knights -> melt; quality -> melt; melt -> summary;"


def knights(tmp: Path, knights: list[str] | None = None, **extra: str) -> Pipeline:
    code = scripts(tmp / "code", **{**KNIGHTS, **extra})
    p = Pipeline(KNIGHTS_DOT, code, tmp / "data")
    p.push(knights=knights or ["Lancelot", "Galahad"])
    return p


def copy_example(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("pipe-data"))
    return target


def read(root: Path, pattern: str) -> list[str]:
    return sorted(p.read_text() for p in root.glob(pattern))


# A pipeline whose instances have files (an image among them), logs, one failure.
DEMO_DOT = "source -> square -> label;"
DEMO = {
    "source": "seg_output = [get_input()]\n",
    "square": (
        "import struct, zlib\n"
        "value = get_input('source')\n"
        "logger.info('squaring %s', value)\n"
        "if value == 3:\n"
        "    raise ValueError('three is not welcome')\n"
        "def png(side, rgb):\n"
        "    raw = b''.join(b'\\x00' + bytes(rgb) * side for _ in range(side))\n"
        "    def chunk(kind, data):\n"
        "        body = kind + data\n"
        "        return struct.pack('>I', len(data)) + body + struct.pack('>I', zlib.crc32(body))\n"
        "    head = struct.pack('>IIBBBBB', side, side, 8, 2, 0, 0, 0)\n"
        "    return (b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', head)\n"
        "            + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))\n"
        "open(get_data_fn('plot.png'), 'wb').write(png(48, (40 * value, 90, 160)))\n"
        "open(get_data_fn('square.txt'), 'w').write(f'{value * value}\\n')\n"
        "threshold = value * 10\n"
        "expose(['threshold'])\n"
        "set_output(value * value)\n"
    ),
    "label": (
        "squared = get_input('square')\n"
        "print('labelling', squared)\n"
        "open(get_data_fn('label.txt'), 'w').write(f'{params[\"prefix\"]}{squared}\\n')\n"
    ),
}


def demo_pipeline(code: Path, prefix: Path, name: str) -> Pipeline:
    """The demo pipeline (``source`` pushed 1, 2, 3; ``square`` fails on 3), not run yet."""
    p = Pipeline(
        DEMO_DOT,
        scripts(code, **DEMO),
        prefix,
        segments={"label": {"params": {"prefix": "n="}}},
        name=name,
    )
    p.push(source=[1, 2, 3])
    return p


def project_demo(project_state: Path, tmp: Path, name: str) -> Path:
    """The demo pipeline run (interactively) under ``PROJECT/.pipl/pipe-data/NAME``, as CI
    keeps a pipeline's data; its data folder."""
    from pipl.pipe import run

    p = demo_pipeline(tmp / "code", project_state / "pipe-data" / name, name)
    report = run(p, executor="interactive")
    assert not report.ok and report.segment("square").failed == 1
    return p.prefix


# A run of its own process: ``n -> slow``, each ``slow`` instance sleeping, then leaving
# a file per execution in ``ledger/`` (``INPUT-PID-NS``); its workers' pids in ``pids/``.
SLOW_PROG = """
import sys; from pathlib import Path; from pipl.pipe import Pipeline, run
code, prefix, count, jobs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
p = Pipeline('n -> slow;', code, prefix, name=prefix.name)
p.push(n=list(range(count)))
r = run(p, executor=sys.argv[5], jobs=jobs)
print(r.status, r.segment('slow').reused, r.segment('slow').ran)
"""


def slow_code(tmp: Path, seconds: float = 0.2) -> tuple[Path, Path, Path]:
    """The code of the slow pipeline, its ledger and pids folders."""
    ledger, pids = tmp / "ledger", tmp / "pids"
    ledger.mkdir(parents=True, exist_ok=True)
    pids.mkdir(exist_ok=True)
    code = scripts(
        tmp / "slow-code",
        n="seg_output = [get_input()]\n",
        slow=(
            "import os, time\n"
            f"open(os.path.join({str(pids)!r}, str(os.getpid())), 'w').close()\n"
            f"time.sleep({seconds})\n"
            f"name = f'{{get_input()}}-{{os.getpid()}}-{{time.time_ns()}}'\n"
            f"open(os.path.join({str(ledger)!r}, name), 'w').close()\n"
        ),
    )
    return code, ledger, pids


def start_slow_run(
    tmp: Path,
    prefix: Path,
    count: int = 60,
    jobs: int = 2,
    seconds: float = 0.2,
    executor: str = "local",
) -> tuple[subprocess.Popen[str], Path, Path]:
    """Start the slow pipeline in a process of its own; the process, ledger and pids."""
    code, ledger, pids = slow_code(tmp, seconds)
    argv = [str(code), str(prefix), str(count), str(jobs), executor]
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_PROG, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, ledger, pids


def executions(ledger: Path) -> dict[str, int]:
    """How many times each input of the slow pipeline ran to its end."""
    counts: dict[str, int] = {}
    for entry in ledger.iterdir():
        name = entry.name.split("-")[0]
        counts[name] = counts.get(name, 0) + 1
    return counts


def wait_until(check: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
