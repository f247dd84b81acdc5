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
