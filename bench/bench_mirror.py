"""The first ``pipl packl create`` on a freshly started server, with the PyPI mirror on.

PyPI is stood in for by a local server (``tests/standin_pypi.py``) serving a name list as
long as PyPI's, so devpi's mirror (root/pypi, its ``mirror_url`` pointed at the stand-in)
costs what it would against pypi.org without leaving the machine. Two settings of the
mirror, measured in the same run:

- devpi's default: a name the mirror has not seen makes devpi fetch the whole name list
  first (what ``pipl proj index create-default`` left before it set the mirror up);
- as ``pipl proj index create-default`` sets it up (``mirror_no_project_list``): devpi asks
  the mirror for that one name.

Each round restarts the server, then times ``pipl packl create`` (name check, template,
editable install) through the real command; then, after a restart again, the name check
alone (the request ``check_name_free`` makes). An offline project (no mirror at all) is
measured the same way, for reference.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import (
    BIN,
    FAST_ARGON2,
    BenchProject,
    clean_env,
    free_port,
    pipl,
    print_table,
    summary,
    timed,
)
from tests.standin_pypi import StandInPyPI

PYPI_NAMES = 700_000  # about as many projects as pypi.org lists
ROUNDS = 5


def _set_mirror(root: Path, **settings: object) -> None:
    from pipl.index.session import connect
    from pipl.project.project import Project

    with connect(Project.load(root), "admin") as admin:
        admin.modify_index("root/pypi", **settings)


def _create_after_restart(env: dict[str, str], name: str) -> float:
    pipl("proj", "stop", env=env)
    pipl("proj", "start", "--detach", env=env)
    return timed([BIN / "pipl", "packl", "create", name, "--kind", "lib", "-w", "w"], env)


def _check_after_restart(root: Path, env: dict[str, str], name: str) -> float:
    """The packl name check alone (what ``check_name_free`` asks the index), in-process."""
    import time

    from pipl.index.session import connect
    from pipl.project.project import Project

    pipl("proj", "stop", env=env)
    pipl("proj", "start", "--detach", env=env)
    project = Project.load(root)
    with connect(project, "anonymous") as client:
        start = time.perf_counter()
        client.versions(project.stage_index(), name)
        return time.perf_counter() - start


def offline() -> str:
    with tempfile.TemporaryDirectory() as tmp, BenchProject(Path(tmp)) as proj:
        pipl("work", "create", "w", env=proj.env)
        pipl("packl", "create", "warm-up", "--kind", "lib", "-w", "w", env=proj.env)
        return summary([_create_after_restart(proj.env, f"off-{i}") for i in range(ROUNDS)])


def main() -> None:
    rows = [("packl create, offline project (reference)", offline())]
    with tempfile.TemporaryDirectory() as tmp, StandInPyPI(filler=PYPI_NAMES) as pypi:
        root = Path(tmp) / "proj"
        env = clean_env(Path(tmp) / "home", PIPL_PROJECT=str(root), UV_CACHE_DIR=f"{tmp}/uv")
        pipl("proj", "create", root, "--port", str(free_port()), *FAST_ARGON2, env=env)
        pipl("proj", "start", "--detach", env=env)
        try:
            _set_mirror(root, mirror_url=pypi.url)
            pipl("proj", "index", "create-default", env=env)
            pipl("work", "create", "w", env=env)
            pipl("packl", "create", "warm-up", "--kind", "lib", "-w", "w", env=env)
            # one name first: a new project's devpi has never stored PyPI's name list
            for label, whole_list in (
                ("as create-default sets it (one name)", False),
                ("devpi's default (whole name list)", True),
            ):
                _set_mirror(root, mirror_no_project_list=not whole_list)
                samples = []
                for i in range(ROUNDS):
                    before = pypi.asked("/simple/")
                    name = f"{'list' if whole_list else 'one'}-{i}"
                    samples.append(_create_after_restart(env, name))
                    fetched = pypi.asked("/simple/") - before
                    assert fetched == (1 if whole_list else 0), (label, fetched)
                rows.append((f"packl create, {label}", summary(samples)))
                checks = [
                    _check_after_restart(root, env, f"check-{name}-{i}") for i in range(ROUNDS)
                ]
                rows.append((f"name check alone, {label}", summary(checks)))
            rows.append(("names in the stand-in's list", f"{PYPI_NAMES:,}"))
            rows.append(("target", "under 1 s as create-default sets it"))
        finally:
            pipl("proj", "stop", env=env, check=False)
    print_table("first packl create on a freshly started server, PyPI mirror on", rows)


if __name__ == "__main__":
    main()
