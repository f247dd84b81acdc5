"""Helpers for the pipeline tests: small pipelines written into a folder."""

from __future__ import annotations

import shutil
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
