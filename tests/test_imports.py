"""``import pipl`` and ``pipl --help`` stay light: no devpi-server, no httpx."""

import subprocess
import sys

HEAVY = ("devpi_server", "httpx", "pyramid", "tomlkit")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    return {m for m in out if m.split(".")[0] in HEAVY}


def test_import_pipl_is_light():
    assert _loaded_after("import pipl, pipl.errors, pipl.names") == set()


def test_help_imports_no_capability():
    code = "from pipl.cli import cli\ntry:\n    cli(['--help'])\nexcept SystemExit:\n    pass"
    assert _loaded_after(code) == set()


def test_group_help_imports_no_server_code():
    code = (
        "from pipl.cli import cli\n"
        "try:\n    cli(['proj', 'index', '--help'])\nexcept SystemExit:\n    pass"
    )
    assert _loaded_after(code) == set()


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "pipl.cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "pipl" in out.stdout


def test_imports_point_down_the_layers():
    """The contracts of ``[tool.importlinter]`` (import-linter, also in ``make lint``): the
    layers, and no import circle inside a package."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [lint, "--no-cache"], cwd=root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:]


def test_a_jobs_command_imports_the_jobs_operations_alone(tmp_path):
    """``pipl ci list`` goes through the API's ``jobs.list`` without importing the other
    domains of the API (the pipelines' bring the pipeline engine)."""
    from tests.conftest import new_project

    project = new_project(tmp_path / "light")
    code = (
        "from pipl.cli import cli\n"
        f"try:\n    cli(['--project', {str(project.root)!r}, 'ci', 'list'])\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "import sys\nprint(' '.join(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert "pipl.api.service.jobs" in loaded
    assert not {"pipl.pipe", "pipl.api.service.pipelines"} & loaded
