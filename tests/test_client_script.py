"""The README's client script (examples/publish_and_install.py), run as a user would:
it publishes a task packl, waits for its CI jobs and installs the product with pip."""

from __future__ import annotations

import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from ci_support import task_sdist
from jobs_support import live_runner

from pipl.project.project import Project

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "publish_and_install.py"


def test_the_readme_shows_the_script_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert SCRIPT.read_text() in blocks


@pytest.fixture(scope="module")
def runner(ciproj: Project, tmp_path_factory: pytest.TempPathFactory):
    with live_runner(ciproj, tmp_path_factory.mktemp("script-site")) as url:
        yield url


def test_the_script_publishes_waits_and_installs_the_product(
    ciproj: Project, runner: str, tmp_path: Path
) -> None:
    sdist = task_sdist(tmp_path, "script-task", "0.1.0")
    env = tmp_path / "env"
    venv.create(env, with_pip=True)
    pip = env / "bin" / "pip"
    out = subprocess.run(
        [sys.executable, SCRIPT, ciproj.root, "script-task", "0.1.0", pip, sdist],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"uploaded {sdist.name} to cip/dev" in out.stdout
    assert "all passed" in out.stdout
    assert "installing script-task-report 0.1.0 from cip/prod" in out.stdout
    shown = subprocess.run([pip, "show", "script-task-report"], capture_output=True, text=True)
    assert "Version: 0.1.0" in shown.stdout
