"""uv, the tool that makes and fills pipl's virtualenvs and builds packls.

pipl always tells uv which index to use (the project's), never lets it download a
Python, and turns uv's resolver failures into one-line errors naming the index.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from pipl.errors import CommandError, PacklError, PiplError, ServerNotRunning
from pipl.runner import Completed, Runner


def uv_bin() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


def uv_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.pop("VIRTUAL_ENV", None)
    env.pop("UV_INDEX_URL", None)
    env.pop("UV_DEFAULT_INDEX", None)
    env.pop("UV_EXTRA_INDEX_URL", None)
    env.pop("UV_INDEX", None)
    env.update(extra or {})
    return env


class Uv:
    """uv commands, run through pipl's one ``Runner``."""

    def __init__(self, runner: Runner | None = None) -> None:
        self.runner = runner or Runner()
        self.exe = uv_bin()

    def run(
        self,
        args: Sequence[str | os.PathLike[str]],
        *,
        index_url: str | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        what: str = "uv",
    ) -> Completed:
        done = self.runner.run([self.exe, *args], cwd=cwd, env=uv_env(env), check=False)
        if done.returncode != 0:
            raise explain_failure(done, what, index_url)
        return done

    def venv(self, path: Path, python: str) -> None:
        self.run(
            ["venv", "--quiet", "--python", python, "--no-project", path],
            what=f"create a virtualenv at {path}",
        )

    def install(
        self,
        python: Path,
        requirements: Iterable[str],
        *,
        index_url: str,
        editables: Iterable[Path | str] = (),
        upgrade: Sequence[str] = (),
        extra: str | None = None,
        what: str = "install",
    ) -> Completed:
        """Install into the environment of ``python`` from ``index_url`` only.

        ``extra`` is added to every requirement and editable path (workspaces install
        with the ``edit`` extra, which brings editor and tool packls)."""
        args: list[str | os.PathLike[str]] = [
            "pip",
            "install",
            "--python",
            python,
            "--index-url",
            index_url,
            "--quiet",
        ]
        for name in upgrade:
            args += ["--upgrade-package", name]
        for path in editables:
            args += ["--editable", f"{path}[{extra}]" if extra else str(path)]
        args += [with_extra(r, extra) for r in requirements] if extra else list(requirements)
        return self.run(args, index_url=index_url, what=what)

    def uninstall(self, python: Path, names: Iterable[str]) -> None:
        self.run(["pip", "uninstall", "--python", python, "--quiet", *names], what="uninstall")

    def freeze(self, python: Path) -> list[str]:
        done = self.run(["pip", "freeze", "--python", python], what="list installed packages")
        return [line.strip() for line in done.stdout.splitlines() if line.strip()]

    def build(self, source: Path, out_dir: Path, *, index_url: str) -> Completed:
        env = {"SOURCE_DATE_EPOCH": "315532800"}  # 1980-01-01: byte-identical rebuilds
        return self.run(
            [
                "build",
                "--sdist",
                "--wheel",
                "--quiet",
                "--out-dir",
                out_dir,
                "--index-url",
                index_url,
                source,
            ],
            index_url=index_url,
            env=env,
            what=f"build {source.name}",
        )


def with_extra(requirement: str, extra: str) -> str:
    """``name>=1`` -> ``name[extra]>=1`` (keeping other extras and markers)."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(requirement)
    except InvalidRequirement:
        return requirement  # uv will report it
    req.extras.add(extra)
    return str(req)


_CONNECT = re.compile(
    r"(Connection refused|Failed to fetch|error sending request|dns error)", re.IGNORECASE
)


# uv's decorations before a message line: the error cross, tree drawing, "cause:"
_DECORATION = re.compile(r"^[\s\u00d7╰─▶│]+(cause:\s*)?")


def explain_failure(done: Completed, what: str, index_url: str | None) -> PiplError:
    """A uv failure as a ``PiplError`` whose one line says why and what to do."""
    text = done.stderr.strip() or done.stdout.strip()
    lines = [_DECORATION.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if index_url and _CONNECT.search(text):
        return ServerNotRunning(
            f"{what}: the project index at {index_url} does not answer: start the server "
            "with 'pipl proj start --detach'"
        )
    if "No solution found" in text or "not found in the package registry" in text:
        reason = next((line for line in lines if line.startswith("Because")), lines[-1])
        return PacklError(f"{what}: no match on the project index {index_url}: {reason}")
    last = lines[-1] if lines else "no output"
    return CommandError(f"{what} failed (uv exit {done.returncode}): {last}")
