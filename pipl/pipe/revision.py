"""The version control revision of a pipeline's code, recorded with each run.

When the pipeline's code folder is in a git checkout, a run records ``git rev-parse HEAD``
(with ``+modified`` when tracked files under the folder differ from it), so a result can
be traced to the commit that made it. Anything else (no git, not a checkout, an installed
packl) records nothing: the revision is a help, never a reason for a run to fail.
"""

from __future__ import annotations

import re
from pathlib import Path

from pipl.errors import CommandError
from pipl.runner import Runner

SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?\Z")
MODIFIED = "+modified"
# git options that keep a repository's own configuration from running programs
SAFE = ("-c", "core.fsmonitor=false", "-c", "core.untrackedCache=false")


def code_revision(folder: Path | None, runner: Runner | None = None) -> str:
    """``folder``'s commit (``+modified`` when its tracked files changed), or ``""``."""
    if folder is None or not folder.is_dir():
        return ""
    run = (runner or Runner()).run
    try:
        head = run(["git", *SAFE, "-C", folder, "rev-parse", "HEAD"], check=False, timeout=20)
        if head.returncode != 0 or not SHA.match(head.stdout.strip()):
            return ""
        status = run(
            [
                "git",
                *SAFE,
                "-C",
                folder,
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
            ],
            check=False,
            timeout=60,
        )
    except CommandError:  # no git on this machine, or it hung
        return ""
    dirty = status.returncode == 0 and bool(status.stdout.strip())
    return head.stdout.strip() + (MODIFIED if dirty else "")
