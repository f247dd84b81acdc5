"""An asset store served from another Python environment (``pipl_pipe.assets.serve``).

A studio's store provider is a packl: it is installed in workspaces, not beside pipl. To
use the same store as the packls, pipl starts ``python -m pipl_pipe.assets.serve`` in an
environment that has the provider and talks to it over a pipe (JSON lines), with the
``AssetStore`` methods. The child ends when the store is closed (or pipl exits).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from pipl_pipe.assets.objects import Stored

from pipl.runner import Runner
from pipl_pipe import errors


def _stop(proc: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    if proc.stdin is not None and not proc.stdin.closed:
        proc.stdin.close()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
    log.close()


class EnvStore:
    """The ``AssetStore`` of the environment of ``python`` (for the project in ``env``)."""

    def __init__(
        self,
        python: Path,
        env: Mapping[str, str],
        *,
        where: str,
        cwd: Path,
        runner: Runner | None = None,
    ) -> None:
        self.where = where
        # the child's stderr, for the message if it stops; closed by the finalizer below
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the store
        self._proc = (runner or Runner()).spawn(
            [python, "-m", "pipl_pipe.assets.serve"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self._finalizer = weakref.finalize(self, _stop, self._proc, self._log)
        self.url: str = self._answer()["url"]

    # -- the pipe -----------------------------------------------------------------------
    def _died(self) -> errors.ServiceError:
        try:
            code = self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        self._log.seek(0)
        lines = [line.strip() for line in self._log.read().decode(errors="replace").splitlines()]
        last = next((line for line in reversed(lines) if line), "no output")
        return errors.ServiceError(f"the asset store of {self.where} stopped (exit {code}): {last}")

    def _answer(self) -> Any:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise self._died()
        reply = json.loads(line)
        if "error" in reply:
            cls = getattr(errors, str(reply["error"]), errors.PipeError)
            if not (isinstance(cls, type) and issubclass(cls, errors.PipeError)):
                cls = errors.PipeError
            raise cls(str(reply["message"]))
        return reply["ok"]

    def _call(self, op: str, *args: Any) -> Any:
        if not self._finalizer.alive:
            raise errors.AssetError(f"the asset store of {self.where} is closed")
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps({"op": op, "args": list(args)}).encode() + b"\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            raise self._died() from None
        return self._answer()

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> EnvStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- AssetStore -----------------------------------------------------------------------
    def put(self, path: Path) -> Stored:
        path = Path(path).absolute()
        if path.is_fifo():  # its other end belongs to this process, not the store's
            raise errors.AssetError(
                f"{path} is a pipe: the asset store of {self.where} can add files and "
                "folders only; write the content to a file first"
            )
        return Stored(**self._call("put", str(path)))

    def has(self, sha256: str) -> bool:
        return bool(self._call("has", sha256))

    def fetch(self, sha256: str, dest: Path, kind: str = "file") -> Path:
        return Path(self._call("fetch", sha256, str(Path(dest).absolute()), kind))

    def verify(self, sha256: str) -> None:
        self._call("verify", sha256)

    def kind_of(self, sha256: str) -> str:
        return str(self._call("kind_of", sha256))

    def read_tree(self, sha256: str) -> list[dict[str, Any]]:
        return list(self._call("read_tree", sha256))

    def mtime(self, sha256: str) -> float:
        return float(self._call("mtime", sha256))

    def age(self, sha256: str) -> float:
        return float(self._call("age", sha256))

    def objects(self) -> Iterator[tuple[str, int]]:
        for sha, size in self._call("objects"):
            yield str(sha), int(size)

    def remove(self, sha256: str, *, older_than: float | None = None) -> bool:
        return bool(self._call("remove", sha256, older_than))
