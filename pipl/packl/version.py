"""Version bumps that always give a valid PEP 440 version.

=========  ==================  ==================
part       from                to
=========  ==================  ==================
major      1.4.2 / 1.4.2rc1    2.0.0
minor      1.4.2               1.5.0
patch      1.4.2               1.4.3
patch      1.4.3rc1, 1.4.3.dev2  1.4.3 (the release it led to)
pre        1.4.2               1.4.3a0
pre        1.4.3a0             1.4.3a1
pre        1.4.3a1.dev3        1.4.3a1
pre --label rc  1.4.3a1        1.4.3rc0
post       1.4.2               1.4.2.post0
post       1.4.2.post0         1.4.2.post1
post       1.4.2.post1.dev0    1.4.2.post1
dev        1.4.2               1.4.3.dev0
dev        1.4.3.dev0          1.4.3.dev1
=========  ==================  ==================
"""

from __future__ import annotations

import stat
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from pipl.errors import UsageError
from pipl.fsutil import atomic_write, locked
from pipl.packl.pyproject import PyProject
from pipl.uv import Uv
from pipl.workspace.workspace import EDIT_EXTRA

if TYPE_CHECKING:
    from pipl.packl.packl import Packl
    from pipl.project.project import Project
    from pipl.workspace.workspace import Workspace

PARTS = ("major", "minor", "patch", "pre", "post", "dev")
LABELS = ("a", "b", "rc")


def bump(version: str, part: str, *, label: str | None = None) -> str:
    try:
        v = Version(version)
    except InvalidVersion:
        raise UsageError(f"{version!r} is not a PEP 440 version; fix [project] version") from None
    if part not in PARTS:
        raise UsageError(f"cannot bump {part!r}: choose one of {', '.join(PARTS)}")
    if label is not None and label not in LABELS:
        raise UsageError(f"pre-release label {label!r}: choose one of {', '.join(LABELS)}")
    major, minor, micro = (*v.release, 0, 0, 0)[:3]
    epoch = f"{v.epoch}!" if v.epoch else ""
    unfinished = v.pre is not None or v.dev is not None
    if part == "major":
        new = f"{major + 1}.0.0"
    elif part == "minor":
        new = f"{major}.{minor + 1}.0"
    elif part == "patch":
        new = f"{major}.{minor}.{micro if unfinished and v.post is None else micro + 1}"
    elif part == "pre" and v.pre is not None and v.dev is not None and label is None:
        new = f"{v.base_version}{v.pre[0]}{v.pre[1]}"  # the pre-release this dev led to
    elif part == "pre":
        if v.pre is not None and (label is None or label == v.pre[0]):
            new = f"{v.base_version}{v.pre[0]}{v.pre[1] + 1}"
        elif v.pre is not None:
            if LABELS.index(label or "a") < LABELS.index(v.pre[0]):
                raise UsageError(
                    f"{version} is already past {label}: bump to {v.pre[0]} or a later label"
                )
            new = f"{v.base_version}{label}0"
        else:
            new = f"{major}.{minor}.{micro + 1}{label or 'a'}0"
    elif part == "post" and v.post is not None and v.dev is not None:
        new = str(v).rsplit(".dev", 1)[0]  # the post-release this dev led to
    elif part == "post":
        base = v.base_version + (f"{v.pre[0]}{v.pre[1]}" if v.pre else "")
        new = f"{base}.post{v.post + 1 if v.post is not None else 0}"
    else:  # dev
        if v.dev is not None:
            new = f"{str(v).rsplit('.dev', 1)[0]}.dev{v.dev + 1}"
        else:
            new = f"{major}.{minor}.{micro + 1}.dev0"
    result = Version(epoch + new)
    assert result > v, (version, part, str(result))
    return str(result)


def bump_packl(
    project: Project,
    ws: Workspace,
    packl: Packl,
    part: str,
    *,
    label: str | None = None,
    uv: Uv | None = None,
) -> tuple[str, str]:
    """Bump ``packl``'s version in its pyproject (recorded) and refresh its editable
    install; return ``(old, new)``. Both happen under the pyproject's file lock.

    All or nothing: when the reinstall fails (the index server is down, say) or is
    interrupted, the pyproject gets its old text back, so the version and the history
    say what is installed, and the same bump can simply be run again."""
    with locked(packl.pyproject_file):
        before = packl.pyproject_file.read_bytes()
        mode = stat.S_IMODE(packl.pyproject_file.stat().st_mode)
        pyproject = PyProject(packl.pyproject_file)
        old = pyproject.version
        new = bump(old, part, label=label)
        pyproject.project["version"] = new
        pyproject.record("bump", f"{old} -> {new} ({part})")
        try:
            pyproject.save()
            (uv or Uv()).install(
                ws.python,
                [],
                editables=[packl.path],
                extra=EDIT_EXTRA,
                index_url=ws.index_url(project),
                what=f"reinstall {pyproject.name}",
            )
        except BaseException:
            atomic_write(packl.pyproject_file, before, mode=mode)
            raise
    return old, new
