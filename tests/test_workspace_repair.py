"""Workspaces that break: a deleted virtualenv is repaired, a broken marker hides no other
workspace, and pip inside a workspace is the workspace's own."""

import dataclasses
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

from pipl.errors import PacklError
from pipl.packl.create import create_packl
from pipl.uv import Uv
from pipl.workspace.area import get_area
from pipl.workspace.repair import OLD_VENV, repair_workspace
from pipl.workspace.workspace import create_workspace, find_workspace, remove_workspace
from tests.helpers import fails, make_wheel, run


def pipl(project, *args, **kwargs):
    """The real command line, in a child process (its children write to real stdout)."""
    return subprocess.run(
        [sys.executable, "-m", "pipl.cli", "--project", str(project.root), *args],
        capture_output=True,
        text=True,
        **kwargs,
    )


@pytest.fixture(scope="module")
def ws(project):
    space = create_workspace(project, "fixable", requirements=["flit_core"])
    create_packl(project, space, "fix-010", "task")
    yield space
    remove_workspace(space)


def test_repair_after_the_virtualenv_is_deleted(project, ws):
    source = (ws.packls_dir / "fix-010" / "pyproject.toml").read_text()
    shutil.rmtree(ws.venv)
    # every way in says how to get the workspace back, not to remove it
    fails(
        run(["work", "run", "-w", "fixable", "--", "fix-010-info"], project=project.root),
        7,
        "no working virtualenv",
        "pipl work repair default/fixable",
    )
    fails(run(["work", "env", "-w", "fixable"], project=project.root), 7, "pipl work repair")
    listed = json.loads(run(["work", "list", "--json"], project=project.root).output)["data"]
    [row] = [r for r in listed if r["name"] == "fixable"]
    assert "pipl work repair" in row["error"] and row["packls"] == ["fix-010"]

    repaired = run(["work", "repair", "fixable"], project=project.root)
    assert repaired.exit_code == 0, repaired.output
    assert "Repaired workspace default/fixable" in repaired.stdout
    assert "fix-010" in repaired.stdout.splitlines()[-1]
    assert "... making a new virtualenv" in repaired.stderr  # progress, on stderr
    assert "... installing 1 packl(s) editable, 1 requirement(s)" in repaired.stderr

    # the sources are kept, installed editable again, with the creation's --with
    assert (ws.packls_dir / "fix-010" / "pyproject.toml").read_text() == source
    installed = ws.distributions()
    assert "flit-core" in installed and "pip" in installed
    direct = json.loads(installed["fix-010"].read_text("direct_url.json"))
    assert direct["dir_info"]["editable"] and str(ws.packls_dir / "fix-010") in direct["url"]
    done = pipl(project, "work", "run", "-w", "fixable", "--", "fix-010-info")
    assert done.returncode == 0 and "fix-010 0.1.0" in done.stdout, done.stderr
    assert not (ws.path / OLD_VENV).exists()


def test_a_failed_repair_puts_the_old_virtualenv_back(project, ws):
    (ws.bin_dir / "marker-of-the-old-venv").write_text("old\n")
    wanting = dataclasses.replace(ws, requirements=("not-on-the-index",))
    with pytest.raises(PacklError, match="no match on the project index"):
        repair_workspace(project, wanting)
    assert (ws.bin_dir / "marker-of-the-old-venv").is_file()
    assert not (ws.path / OLD_VENV).exists()
    done = pipl(project, "work", "run", "-w", "fixable", "--", "fix-010-info")
    assert done.returncode == 0, done.stderr


def test_repair_keeps_editable_sources_from_outside(project, ws, tmp_path):
    source = tmp_path / "outside-lib"
    (source / "outside_lib").mkdir(parents=True)
    (source / "outside_lib" / "__init__.py").write_text('"""Outside the workspace."""\n')
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["flit_core>=3.12,<5"]\n'
        'build-backend = "flit_core.buildapi"\n\n'
        '[project]\nname = "outside-lib"\nversion = "1.0"\ndescription = "x"\n'
    )
    Uv().install(ws.python, [], editables=[source], index_url=ws.index_url(project))
    for exe in ws.bin_dir.glob("python*"):  # the virtualenv's Python went away
        exe.unlink()
    fails(run(["work", "env", "-w", "fixable"], project=project.root), 7, "pipl work repair")

    result = repair_workspace(project, ws)
    assert result.packls == ["fix-010"] and result.editables == [str(source)]
    direct = json.loads(ws.distributions()["outside-lib"].read_text("direct_url.json"))
    assert direct["dir_info"]["editable"] and str(source) in direct["url"]
    assert ws.python.exists()


def test_a_broken_marker_breaks_no_other_workspace(project, ws):
    wrecked = get_area(project).path / "wrecked"
    wrecked.mkdir()
    (wrecked / "pipl-workspace.toml").write_text("[workspace\nname = 'wrecked'\n")
    try:
        listed = run(["work", "list"], project=project.root)
        assert listed.exit_code == 0, listed.output
        rows = {line.split()[1]: line for line in listed.stdout.splitlines()[1:]}
        assert "BROKEN" in rows["wrecked"] and "BROKEN" not in rows["fixable"]
        assert "default/wrecked:" in listed.stderr and "is broken" in listed.stderr

        data = json.loads(run(["work", "list", "--json"], project=project.root).stdout)["data"]
        by_name = {r["name"]: r for r in data}
        assert "pipl-workspace.toml is broken" in by_name["wrecked"]["error"]
        assert by_name["fixable"]["error"] is None

        other = pipl(project, "work", "run", "-w", "fixable", "--", "python", "-c", "print(6*7)")
        assert other.returncode == 0 and other.stdout.strip() == "42", other.stderr
        fails(
            run(["work", "run", "-w", "wrecked", "--", "python"], project=project.root),
            7,
            "wrecked/pipl-workspace.toml is broken",
        )
    finally:
        shutil.rmtree(wrecked)


def test_pip_in_the_workspace_is_its_own(project, ws, owner, tmp_path):
    version = pipl(project, "work", "run", "-w", "fixable", "--", "pip", "--version")
    assert version.returncode == 0, version.stderr
    assert f"from {ws.site_packages}/pip " in version.stdout

    wheel = make_wheel(tmp_path, "pip-typed-lib", "1.0")
    owner.upload(project.stage_index(), wheel)
    done = pipl(
        project, "work", "run", "-w", "fixable", "--", "pip", "install", "--quiet", "pip-typed-lib"
    )
    assert done.returncode == 0, done.stderr
    assert ws.distributions()["pip-typed-lib"].version == "1.0"
    assert importlib.util.find_spec("pip_typed_lib") is None  # not in pipl's environment

    # pip run straight from the workspace, without pipl's environment, also uses the index
    plain = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV"))}
    wheel = make_wheel(tmp_path, "pip-conf-lib", "1.0")
    owner.upload(project.stage_index(), wheel)
    subprocess.run(
        [ws.bin_dir / "pip", "install", "--quiet", "pip-conf-lib"],
        env=plain,
        check=True,
        capture_output=True,
    )
    assert "pip-conf-lib" in ws.distributions()
    assert find_workspace(project, "fixable").path == ws.path
