"""An offline project builds packages whose build backend is setuptools, from its own
index alone (the base index carries setuptools, wheel and what they need)."""

import subprocess
import sys
import tarfile
import zipfile

from pipl.uv import Uv

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "legacy-lib"
version = "1.0"
"""


def test_offline_project_builds_a_setuptools_sdist(project, admin, tmp_path):
    assert admin.get_index(project.base_index)["bases"] == []  # no PyPI behind it
    src = tmp_path / "legacy-lib"
    (src / "src" / "legacy_lib").mkdir(parents=True)
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / "src" / "legacy_lib" / "__init__.py").write_text("WHO = 'setuptools'\n")

    # uv: the sdist, then the wheel built from it, each in a fresh build environment
    Uv().build(src, tmp_path / "dist", index_url=project.simple_url())
    sdist = next((tmp_path / "dist").glob("legacy_lib-1.0.tar.gz"))
    with tarfile.open(sdist) as tar:
        assert "legacy_lib-1.0/src/legacy_lib/__init__.py" in tar.getnames()
    wheel = next((tmp_path / "dist").glob("legacy_lib-1.0-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("legacy_lib/__init__.py") == b"WHO = 'setuptools'\n"

    # pip, as a CI wheel builder would run it: a wheel from the sdist
    out = tmp_path / "pip-wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--index-url",
            project.simple_url(),
            "--wheel-dir",
            str(out),
            str(sdist),
        ],
        check=True,
    )
    with zipfile.ZipFile(next(out.glob("legacy_lib-1.0-*.whl"))) as zf:
        assert zf.read("legacy_lib/__init__.py") == b"WHO = 'setuptools'\n"
