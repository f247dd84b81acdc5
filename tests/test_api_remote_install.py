"""``pipl.Client`` on a machine with only httpx and pipl-pipe: no devpi-server, no click,
no packaging. The environment gets httpx (and what it needs) and pipl-pipe's own
dependencies, repacked from this environment's installed distributions (no PyPI), and
pipl's source folder on its path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.wheelhouse import closure, repack

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import importlib.util, sys
from pipl import Client
for heavy in ("devpi_server", "click", "packaging", "webob", "jinja2"):
    assert importlib.util.find_spec(heavy) is None, heavy + " is installed"
with Client(sys.argv[1]) as client:
    health = client.health()
    print(health.project, health.server_running, client.whoami().user)
"""


def test_the_remote_client_needs_only_httpx_and_pipl_pipe(
    tmp_path: Path, web: str, project
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for dist in closure(["httpx", "tomlkit", "filelock"]):
        repack(dist, wheels)
    env = tmp_path / "env"
    uv = Path(sys.executable).parent / "uv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, env], check=True)
    python = env / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", python, "--offline", "--no-index",
         "--find-links", wheels, "httpx", "tomlkit", "filelock"],
        check=True,
    )  # fmt: skip
    site = next((env / "lib").glob("python3*/site-packages"))
    # pipl-pipe and pipl themselves from this checkout's sources
    (site / "checkout.pth").write_text(f"{ROOT / 'pipl_pipe'}\n{ROOT}\n")
    out = subprocess.run([python, "-c", SCRIPT, web], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [project.name, "True", "None"]
