"""A segment environment is asked what it holds with ``python -m pipl_pipe.segment.probe``:
its segment entry points and its installed packls, answered through a result file, so a
module that prints when imported changes nothing, and a broken one is one error line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipl.errors import PipelineError
from pipl.pipe import probe
from pipl.pipe.inputs import installed, installed_at

SEGMENT = '''"""A segment packl's module."""
print("chatty: segment imported")
MULTIPLEX = "union"


def main(seg):
    return None
'''


def fake_dist(site: Path, name: str, entry_points: str, module: str, text: str) -> None:
    """Distribution ``name`` 1.2 in the folder ``site``, with ``module``.py."""
    info = site / f"{name.replace('-', '_')}-1.2.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2\n")
    (info / "entry_points.txt").write_text(entry_points)
    (site / f"{module}.py").write_text(text)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on the probed python's path holding segment packl chatty-seg 1.2 (which
    prints when imported), broken-seg (which raises) and product rig-prod of type rig."""
    folder = tmp_path / "site"
    fake_dist(
        folder,
        "chatty-seg",
        "[pipl_pipe.segment]\nchatty = chatty_seg:main\n",
        "chatty_seg",
        SEGMENT,
    )
    fake_dist(
        folder,
        "broken-seg",
        "[pipl_pipe.segment]\nbroken = broken_seg:main\n",
        "broken_seg",
        'raise RuntimeError("no licence server")\n',
    )
    fake_dist(folder, "rig-prod", "[pipl_pipe.product]\nrig-prod = rig_prod:PRODUCT\n", "x", "")
    (folder / "rig_prod").mkdir()
    (folder / "rig_prod" / "pipl_manifest.json").write_text('{"type": "rig"}')
    monkeypatch.setenv("PYTHONPATH", str(folder))
    return folder


def test_the_first_segment_entry_point_named_is_found_with_its_source(site: Path) -> None:
    found = probe.entry_point(sys.executable, ["nosuch", "chatty", "broken"])
    assert found == {
        "name": "chatty",
        "value": "chatty_seg:main",
        "dist": "chatty-seg",
        "version": "1.2",
        "origin": str(site / "chatty_seg.py"),
        "source": SEGMENT,
        "multiplex": "union",
    }


def test_no_segment_entry_point_of_those_names_is_none(site: Path) -> None:
    assert probe.entry_point(sys.executable, ["nosuch", "other"]) is None


def test_a_segment_module_failing_on_import_is_one_line_naming_the_error(site: Path) -> None:
    with pytest.raises(PipelineError, match=r"RuntimeError: no licence server") as err:
        probe.entry_point(sys.executable, ["broken"])
    assert "\n" not in str(err.value)
    assert "(broken)" in str(err.value)


def test_another_python_lists_the_same_packls_as_this_one(site: Path) -> None:
    # another path to this interpreter is probed as another environment would be
    other = str(Path(sys.executable).with_name("python3"))
    assert Path(other).exists() and other != sys.executable
    probed = installed(other)
    assert {"packl": "chatty-seg", "version": "1.2", "type": ""} in probed
    assert {"packl": "rig-prod", "version": "1.2", "type": "rig"} in probed
    here = [*installed_at([str(site)]), *installed_at([])]  # PYTHONPATH came after start
    assert sorted(map(str, probed)) == sorted(map(str, here))


def test_a_python_that_cannot_answer_is_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'not a python' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(PipelineError) as err:
        installed(str(fake))
    assert str(err.value).startswith("cannot list the packls installed for the pipeline:")
    assert "exited 3: not a python" in str(err.value)


def test_without_a_command_the_probe_shows_its_usage_and_exits_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipl_pipe.segment.probe"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.startswith("usage: python -m pipl_pipe.segment.probe")
    assert done.stdout == ""
