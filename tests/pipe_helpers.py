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
