"""pipl installs into a new environment with plain pip, from a clean checkout, with the
command the README gives. pip gets every distribution (and both build backends) from a
folder of wheels made from this environment's installed ones: no PyPI."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import free_port
from tests.wheelhouse import closure, repack

ROOT = Path(__file__).resolve().parent.parent
README_COMMAND = "pip install -e ./pipl_pipe -e ."
OURS = ("pipl", "pipl-pipe")


def _clean_checkout(dest: Path) -> Path:
    """The files a fresh clone of this checkout has (with uncommitted edits): no
    virtualenv, no caches, nothing git ignores."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs a git checkout of pipl")
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


_EDITABLE_REQUIRES = """\
import importlib, sys
backend = importlib.import_module(sys.argv[1])
print("\\n".join(backend.get_requires_for_build_editable()))
"""


def _requirements(checkout: Path) -> list[str]:
    """What pip needs besides pipl and pipl-pipe: their dependencies, their build backends
    and what those ask for to build an editable install."""
    needed: list[str] = []
    for folder in (checkout, checkout / "pipl_pipe"):
        pyproject = tomllib.loads((folder / "pyproject.toml").read_text())
        build = pyproject["build-system"]
        needed += build["requires"] + pyproject["project"]["dependencies"]
        asked = subprocess.run(
            [sys.executable, "-c", _EDITABLE_REQUIRES, build["build-backend"]],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        )
        needed += asked.stdout.split()
    return [r for r in needed if Requirement(r).name not in OURS]


def test_readme_install_command_works_with_plain_pip(tmp_path):
    assert f"$ {README_COMMAND}\n" in (ROOT / "README.md").read_text()
    checkout = _clean_checkout(tmp_path / "pipl")
    wheels = tmp_path / "wheels"
    for dist in closure(_requirements(checkout), skip=OURS):
        repack(dist, wheels)
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", env], check=True)  # with its own pip only
    python = env / "bin" / "python"

    argv = [python, "-m", *shlex.split(README_COMMAND), "--no-index", "--find-links", wheels]
    argv.append("--no-compile")  # no .pyc files: the same install, sooner
    done = subprocess.run(argv, cwd=checkout, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    # both distributions come from the checkout, editable, and pipl finds its templates
    code = (
        "import pipl, pipl_pipe\n"
        "from pipl.packl.templates import available_kinds\n"
        "print(pipl.__file__); print(pipl_pipe.__file__); print(' '.join(available_kinds()))\n"
    )
    out = subprocess.run(
        [python, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    pipl_file, pipe_file, kinds = out.stdout.splitlines()
    assert Path(pipl_file).is_relative_to(checkout)
    assert Path(pipe_file).is_relative_to(checkout / "pipl_pipe")
    assert "lib" in kinds.split() and "task" in kinds.split()
    # the pipl command of that environment creates a project (its own devpi-server)
    project = tmp_path / "proj"
    created = subprocess.run(
        [env / "bin" / "pipl", "proj", "create", project, "--no-pypi", "--port", str(free_port())],
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stderr
    assert (project / "pipl.toml").is_file() and (project / ".pipl" / "devpi").is_dir()
