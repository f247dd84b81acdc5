"""Helpers shared by the benchmarks: timing, a hermetic environment, result tables."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """This machine's settings for pip and uv left out, as a new user would have."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "PIPL_", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"))
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_NO_CONFIG="1",
    )
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def timed(
    argv: Sequence[str | os.PathLike[str]],
    env: dict[str, str],
    cwd: Path | None = None,
    input: str | None = None,
) -> float:
    start = time.perf_counter()
    subprocess.run(
        [str(a) for a in argv],
        env=env,
        cwd=cwd,
        check=True,
        input=input,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return time.perf_counter() - start


def repeat(fn: Callable[[], float], n: int) -> list[float]:
    return [fn() for _ in range(n)]


def summary(samples: list[float]) -> str:
    if len(samples) == 1:
        return f"{samples[0]:.2f} s"
    return f"{statistics.median(samples):.2f} s (min {min(samples):.2f}, n={len(samples)})"


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"\n## {title}")
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")


FAST_ARGON2 = [
    "--server-arg=--argon2-memory-cost",
    "--server-arg=8",
    "--server-arg=--argon2-time-cost",
    "--server-arg=1",
    "--server-arg=--argon2-parallelism",
    "--server-arg=1",
]


def pipl(
    *args: str | os.PathLike[str], env: dict[str, str], check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pipl"), *map(str, args)],
        env=env,
        check=check,
        text=True,
        capture_output=True,
        input=input,
    )


class BenchProject:
    """An offline project with its server running, for benchmarks of what comes after."""

    def __init__(self, tmp: Path, toml_extra: str = "") -> None:
        self.toml_extra = toml_extra  # appended to pipl.toml before the server starts
        self.root = tmp / "proj"
        self.env = clean_env(
            tmp / "home", PIPL_PROJECT=str(self.root), UV_CACHE_DIR=str(tmp / "uv-cache")
        )
        self.port = free_port()

    def __enter__(self) -> BenchProject:
        pipl(
            "proj",
            "create",
            self.root,
            "--no-pypi",
            "--port",
            str(self.port),
            *FAST_ARGON2,
            env=self.env,
        )
        if self.toml_extra:
            with (self.root / "pipl.toml").open("a") as toml:
                toml.write("\n" + self.toml_extra)
        pipl("proj", "start", "--detach", env=self.env)
        pipl("proj", "index", "create-default", env=self.env)
        return self

    def __exit__(self, *exc: object) -> None:
        pipl("proj", "stop", env=self.env, check=False)

    @property
    def simple_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/proj/dev/+simple/"
