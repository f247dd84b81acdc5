"""The one place pipl starts other programs (devpi-server, uv, pip, tox...).

Every call gets an argv list (never a shell), captured output, its duration, and a
printable form with secrets redacted. Tests and embedders can swap the ``Runner``.

Programs that run packl code answer pipl through a result file (``pipl_pipe.answer``),
never through stdout: their output is the user's, and ``to_stderr=True`` passes it on to
pipl's stderr, where it reaches the user without mixing with pipl's own output.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pipl.errors import CommandError

REDACTED = "*****"
STDERR_FD = 2


def redact(argv: Sequence[str], secrets: Iterable[str] = ()) -> str:
    """Printable command line with every secret replaced."""
    text = shlex.join(str(a) for a in argv)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


class Runner:
    """Runs commands. ``run`` waits and captures; ``spawn`` starts a long-lived process."""

    def run(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        capture: bool = True,
        timeout: float | None = None,
        secrets: Iterable[str] = (),
        input: str | None = None,
        to_stderr: bool = False,
        output: IO[bytes] | None = None,
    ) -> Completed:
        """Run ``argv`` and wait. ``capture=False`` leaves its output to this process's
        stdout and stderr; ``to_stderr=True`` sends both to stderr, ``output`` to that
        file (neither captured)."""
        args = tuple(str(a) for a in argv)
        secrets = tuple(secrets)
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                args,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                capture_output=capture and not to_stderr and output is None,
                stdout=output if output is not None else (STDERR_FD if to_stderr else None),
                stderr=subprocess.STDOUT if output is not None else None,
                text=True,
                timeout=timeout,
                check=False,
                input=input,
            )
        except FileNotFoundError as exc:
            raise CommandError(f"cannot run {args[0]!r}: program not found") from exc
        except subprocess.TimeoutExpired as exc:
            raise CommandError(f"timed out after {timeout:.0f}s: {redact(args, secrets)}") from exc
        done = Completed(
            argv=args,
            returncode=proc.returncode,
            stdout=proc.stdout or "",
            stderr=proc.stderr or "",
            seconds=time.perf_counter() - start,
        )
        if check and proc.returncode != 0:
            raise CommandError(failure_message(done, secrets))
        return done

    def spawn(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdout: IO[bytes] | int | None = None,
        detach: bool = False,
        stdin: int | None = None,
        stderr: IO[bytes] | int | None = None,
        pass_fds: Sequence[int] = (),
    ) -> subprocess.Popen[bytes]:
        """Start ``argv``; its output goes to ``stdout`` (stderr too, unless ``stderr`` is
        given). ``stdin``/``stdout`` may be ``subprocess.PIPE`` to talk to it."""
        args = [str(a) for a in argv]
        try:
            return subprocess.Popen(
                args,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=stdin if stdin is not None else (subprocess.DEVNULL if detach else None),
                stdout=stdout,
                stderr=stderr
                if stderr is not None
                else (subprocess.STDOUT if stdout is not None else None),
                start_new_session=detach,
                pass_fds=tuple(pass_fds),
            )
        except FileNotFoundError as exc:
            raise CommandError(f"cannot run {args[0]!r}: program not found") from exc


def failure_message(done: Completed, secrets: Iterable[str] = ()) -> str:
    """One line naming the command, its exit code and the last line it printed."""
    output = (done.stderr.strip() or done.stdout.strip()).splitlines()
    last = output[-1].strip() if output else "no output"
    for secret in secrets:
        if secret:
            last = last.replace(secret, REDACTED)
    return f"{redact(done.argv, secrets)} failed (exit {done.returncode}): {last}"
