"""Project set-up figures: create, start --detach to ready, create-default, stop.

Measured through the real ``pipl`` command with devpi's production argon2 parameters, as a
user would run them, and once more with the test suite's lowered parameters.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import BIN, FAST_ARGON2, clean_env, free_port, print_table, summary, timed


def run_once(tmp: Path, extra: list[str]) -> dict[str, float]:
    proj = tmp / f"p{free_port()}"
    env = clean_env(tmp / "home", PIPL_PROJECT=str(proj))
    pipl = str(BIN / "pipl")
    out = {
        "create": timed(
            [pipl, "proj", "create", proj, "--no-pypi", "--port", str(free_port()), *extra], env
        )
    }
    out["start --detach (to ready)"] = timed([pipl, "proj", "start", "--detach"], env)
    try:
        out["index create-default"] = timed([pipl, "proj", "index", "create-default"], env)
        out["status --json"] = timed([pipl, "proj", "status", "--json"], env)
    finally:
        out["stop"] = timed([pipl, "proj", "stop"], env)
    return out


def main(rounds: int = 3) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for label, extra in (("production argon2", []), ("test argon2", FAST_ARGON2)):
            runs = [run_once(Path(tmp), extra) for _ in range(rounds)]
            rows = [(step, summary([r[step] for r in runs])) for step in runs[0]]
            print_table(f"pipl proj, {label} (wall time per CLI call)", rows)


if __name__ == "__main__":
    main()
