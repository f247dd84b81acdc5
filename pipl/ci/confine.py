"""Landlock inside the sandbox: ``python -I -S confine.py --write DIR ... -- ARGV``.

bubblewrap decides what the sandbox sees; Landlock, where the kernel has it, decides what
the program may do with it, in the kernel and for every process it starts: read and run
anything it sees, write only beneath the ``--write`` folders (the work folder, a
pipeline's data folder, ``/tmp``, ``/dev`` for ``/dev/null``). It restricts this process,
then becomes ``ARGV`` (``exec``): nothing of pipl stays between the two.

It runs as a script without ``site`` and imports only ``ctypes`` and ``os``: its start-up
is part of every sandboxed program's. The ``landlock`` package on PyPI does the same
three system calls but takes 27 ms to import (``typing``, ``dataclasses``), which alone
would spend half of the 50 ms a job's sandbox may add (``python bench/run.py sandbox``).
"""

from __future__ import annotations

import ctypes
import os
import sys

# the three Landlock system calls have these numbers on every architecture
CREATE_RULESET, ADD_RULE, RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
READ = EXECUTE | READ_FILE | READ_DIR
# every right of a file system access, by the ABI version that brought it
RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def abi_version() -> int:
    """The Landlock ABI this kernel enforces; 0 without Landlock."""
    version = int(_libc().syscall(CREATE_RULESET, None, ctypes.c_size_t(0), CREATE_RULESET_VERSION))
    return max(version, 0)


def available() -> bool:
    return sys.platform.startswith("linux") and abi_version() >= 1


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"landlock {what}: {os.strerror(errno)}")
    return result


def confine(writable: list[str]) -> None:
    """Restrict this process (and what it starts) to reading and running, plus writing
    beneath ``writable``: every access right the kernel knows is handled."""
    libc = _libc()
    abi = abi_version()
    rights = RIGHTS_BY_ABI[max(v for v in RIGHTS_BY_ABI if v <= abi)]
    handled = ctypes.c_uint64(rights)  # struct landlock_ruleset_attr, its first field
    ruleset = _check(
        libc.syscall(CREATE_RULESET, ctypes.byref(handled), ctypes.c_size_t(8), 0),
        "create_ruleset",
    )
    try:
        for path, allowed in [("/", READ), *((p, rights) for p in writable)]:
            if not os.path.isdir(path):
                continue
            fd = os.open(path, os.O_PATH | os.O_DIRECTORY)
            try:
                rule = _PathBeneath(allowed, fd)
                _check(
                    libc.syscall(ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), 0),
                    f"add_rule {path}",
                )
            finally:
                os.close(fd)
        _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        _check(libc.syscall(RESTRICT_SELF, ruleset, 0), "restrict_self")
    finally:
        os.close(ruleset)


def main(argv: list[str]) -> int:
    """``--write DIR`` (repeated), ``--``, then the command."""
    writable: list[str] = []
    while argv and argv[0] == "--write" and len(argv) > 1:
        writable.append(argv[1])
        argv = argv[2:]
    if argv[:1] != ["--"] or len(argv) < 2:
        print("usage: confine.py [--write DIR]... -- COMMAND [ARG]...", file=sys.stderr)
        return 2
    confine(writable)
    os.execvp(argv[1], argv[1:])  # noqa: S606 - an argv list, no shell
    return 127  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
