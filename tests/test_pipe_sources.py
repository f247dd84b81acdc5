"""Editable and local-path code in segment environments: its content is in the key."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pipl.errors import PipelineError
from pipl.pipe import Pipeline, prepare, run
from pipl.pipe.sources import local_path, tree_digest
from pipl.uv import Uv
from tests.pipe_helpers import copy_example, scripts


def make_lib(folder: Path, name: str, body: str) -> Path:
    """A flit-built Python project with one module, ``name``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(
        "[build-system]\n"
        'requires = ["flit_core>=3.12,<5"]\n'
        'build-backend = "flit_core.buildapi"\n'
        "[project]\n"
        f'name = "{name}"\n'
        'version = "0.1.0"\n'
        f'description = "{name}, developed beside the pipeline"\n'
    )
    (folder / name).mkdir(exist_ok=True)
    (folder / name / "__init__.py").write_text(body)
    return folder


def test_a_source_digest_follows_edits_and_ignores_caches(tmp_path):
    lib = make_lib(tmp_path / "mylib", "mylib", "FACTOR = 2\n")
    first = tree_digest(lib)
    for junk in (
        "mylib/__pycache__/__init__.cpython-311.pyc",
        ".git/HEAD",
        "build/lib/mylib/__init__.py",
        "dist/mylib-0.1.0.tar.gz",
        "mylib.egg-info/PKG-INFO",
        ".venv/pyvenv.cfg",
        "mylib/.__init__.py.swp",
        "pipe-data/knights_1/data/x.txt",
        "results/pipe.sqlite",
        "results/melt_2/data/y.txt",
    ):
        (lib / junk).parent.mkdir(parents=True, exist_ok=True)
        (lib / junk).write_text("not code")
    assert tree_digest(lib) == first
    (lib / "mylib" / "__init__.py").write_text("FACTOR = 3\n")
    edited = tree_digest(lib)
    assert edited != first
    (lib / "mylib" / "extra.py").write_text("")
    assert tree_digest(lib) not in (first, edited)


def test_which_env_entries_are_local_folders():
    assert local_path("../mylib") == "../mylib"
    assert local_path("-e ../mylib") == "../mylib"
    assert local_path("--editable=/abs/lib") == "/abs/lib"
    assert local_path("file:///abs/my%20lib") == "/abs/my lib"
    assert local_path("numpy<2") is None
    assert local_path("mylib") is None


def test_local_entries_are_relative_to_the_pipeline_packl_however_it_is_loaded(tmp_path):
    from pipl.pipe import installed_pipeline, load_pipeline
    from pipl.pipe.sources import pipeline_folder

    folder = copy_example("knights", tmp_path)
    init = folder / "knights_pipeline" / "__init__.py"
    assert pipeline_folder(load_pipeline(folder)) == folder
    assert pipeline_folder(installed_pipeline(init, "knights", tmp_path / "data")) == folder


@pytest.mark.parametrize(
    ("entry", "expected"),
    [("../nowhere", "is not a folder"), ("./notaproject", "has no pyproject.toml")],
)
def test_a_bad_local_entry_is_one_line_naming_it(tmp_path, entry, expected):
    (tmp_path / "pipe" / "notaproject").mkdir(parents=True)
    code = scripts(tmp_path / "pipe" / "code", seg="set_output(1)\n")
    p = Pipeline(
        "seg;",
        code,
        tmp_path / "data",
        segments={"seg": {"env": [entry]}},
        root=tmp_path / "pipe",
        index_url="http://127.0.0.1:9/never/+simple/",  # never asked: the entry fails first
    )
    with pytest.raises(PipelineError, match=f"segment seg: env entry '{entry}'.*{expected}"):
        prepare(p)


def test_the_engine_interpreter_editables_enter_the_keys_of_segments_importing_them(tmp_path):
    """pipl-pipe is installed editable in the tests' environment: a segment that imports
    it has its source in the key, one that does not has none."""
    code = scripts(
        tmp_path / "code",
        uses="import pipl_pipe.fsutil\nset_output(1)\n",
        plain="import json\nset_output(2)\n",
    )
    by_name = {s.name: s for s in prepare(Pipeline("uses; plain;", code, tmp_path / "data"))}
    assert list(by_name["uses"].code.sources) == ["pipl-pipe"]
    assert by_name["plain"].code.sources == {}


def _ran(report):
    return {s.name: (s.ran, s.reused) for s in report.segments}


# a library used by one of three segments, and a segment beside it that does not use it
DOT = "source -> fit -> report; source -> plain;"
SEGMENTS = {
    "source": "set_output(get_input())\n",
    "fit": "import mylib\nset_output(mylib.scale(get_input('source')))\n",
    "report": "open(get_data_fn('fit.txt'), 'w').write(str(get_input('fit')))\n",
    "plain": "set_output(get_input('source') + 100)\n",
}


def test_an_edit_to_a_local_library_reruns_only_the_segments_using_it(project, tmp_path):
    root = tmp_path / "pipe"
    lib = make_lib(tmp_path / "mylib", "mylib", "def scale(x):\n    return 2 * x\n")

    def pipeline():
        p = Pipeline(
            DOT,
            scripts(root / "code", **SEGMENTS),
            tmp_path / "data",
            segments={"fit": {"env": ["../mylib"]}},
            root=root,
            index_url=project.simple_url(),
        )
        p.push(source=[1, 2, 3])
        return p

    first = run(pipeline(), jobs=1)
    assert first.ok, first.segments
    assert _ran(first) == {"source": (3, 0), "fit": (3, 0), "report": (3, 0), "plain": (3, 0)}
    fit = first.segment("fit")
    assert sorted(int(f.read_text()) for f in fit.root.glob("report_*/data/*/fit.txt")) == [2, 4, 6]
    meta = json.loads((fit.root / "segment.json").read_text())
    assert list(meta["sources"]) == ["mylib"]
    (env,) = [e for e in (tmp_path / "data" / ".envs").iterdir() if e.is_dir()]
    assert f"-e {lib}" in (env / "pipl-lock.txt").read_text()  # installed editable

    (lib / "mylib" / "__pycache__").mkdir()
    (lib / "mylib" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"cache")
    (lib / ".git").mkdir()
    (lib / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    again = run(pipeline(), jobs=1)
    assert sum(s.ran for s in again.segments) == 0 and again.segment("fit").key == fit.key

    (lib / "mylib" / "__init__.py").write_text("def scale(x):\n    return 10 * x\n")
    edited = run(pipeline(), jobs=1)
    assert _ran(edited) == {"source": (0, 3), "fit": (3, 0), "report": (3, 0), "plain": (0, 3)}
    new_fit = edited.segment("fit")
    assert new_fit.key != fit.key
    assert sorted(int(f.read_text()) for f in new_fit.root.glob("report_*/data/*/fit.txt")) == [
        10,
        20,
        30,
    ]
    # the environment was not made again: the editable install sees the edit
    assert [e for e in (tmp_path / "data" / ".envs").iterdir() if e.is_dir()] == [env]


def test_default_environment_editables_rerun_the_segments_importing_them(project, tmp_path):
    """The environment segments run in by default (here a workspace-like venv with three
    libraries installed editable): an edit to a library re-runs the segments that import
    it, directly or through another editable library, and their descendants."""
    core = make_lib(tmp_path / "corelib", "corelib", "OFFSET = 1\n")
    make_lib(
        tmp_path / "mylib",
        "mylib",
        "from corelib import OFFSET\ndef scale(x):\n    return 2 * x + OFFSET\n",
    )
    unused = make_lib(tmp_path / "unused", "unused", "NOTHING = None\n")
    venv = tmp_path / "venv"
    uv = Uv()
    uv.venv(venv, sys.executable)
    python = venv / "bin" / "python"
    uv.install(
        python,
        ["pipl-pipe"],
        index_url=project.simple_url(),
        editables=[tmp_path / "corelib", tmp_path / "mylib", unused],
    )

    def pipeline():
        p = Pipeline(
            DOT,
            scripts(tmp_path / "code", **SEGMENTS),
            tmp_path / "data",
            python=str(python),
        )
        p.push(source=[1, 2])
        return p

    first = run(pipeline(), jobs=1)
    assert first.ok, first.segments
    assert first.segment("fit").ran == 2
    meta = json.loads((first.segment("fit").root / "segment.json").read_text())
    assert sorted(meta["sources"]) == ["corelib", "mylib"]  # mylib imports corelib
    (unused / "unused" / "__init__.py").write_text("NOTHING = 0\n")
    assert sum(s.ran for s in run(pipeline(), jobs=1).segments) == 0

    (core / "corelib" / "__init__.py").write_text("OFFSET = 5\n")
    edited = run(pipeline(), jobs=1)
    assert _ran(edited) == {"source": (0, 2), "fit": (2, 0), "report": (2, 0), "plain": (0, 2)}
    fit = edited.segment("fit")
    assert sorted(int(f.read_text()) for f in fit.root.glob("report_*/data/*/fit.txt")) == [7, 9]
