"""File locks: concurrent read-modify-write cycles lose nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipl_pipe.fsutil import locked

_BUMP = """
import sys, time
from pathlib import Path
from pipl_pipe.fsutil import locked
path = Path(sys.argv[1])
for _ in range(20):
    with locked(path):
        value = int(path.read_text())
        time.sleep(0.001)
        path.write_text(str(value + 1))
"""


def test_concurrent_increments_are_all_kept(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")
    procs = [subprocess.Popen([sys.executable, "-c", _BUMP, str(counter)]) for _ in range(8)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 8
    assert counter.read_text() == "160"


def test_a_held_lock_times_out_with_a_message(tmp_path: Path) -> None:
    target = tmp_path / "registry.toml"
    waiter = (
        "import sys; from pathlib import Path; from pipl_pipe.fsutil import locked\n"
        "with locked(Path(sys.argv[1]), timeout=0.2): pass"
    )
    with locked(target):
        done = subprocess.run(
            [sys.executable, "-c", waiter, str(target)], capture_output=True, text=True
        )
    assert done.returncode != 0
    assert "registry.toml is locked by another pipl command" in done.stderr
    # once released, the next command gets it at once
    with locked(target, timeout=0.2):
        pass

