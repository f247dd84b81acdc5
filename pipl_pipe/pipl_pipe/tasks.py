"""Tasks: packls that are applications (pinned deps, commands, processing).

A task type is a class in the entry-point group ``pipl_pipe.task_type``; it says which
commands and which processing a task of that type gets. In a workspace shell::

    create_task shot-010 shot-animation

turns packl ``shot-010`` into a task of type ``shot-animation``: its pyproject gains the
type's commands (console scripts, listed in ``pipl.commands``), its processing
(``pipl.process``), a ``pipl_pipe.task`` entry point and a dependency on the packl that
defines the type; its module gains ``task.py``. Every edit is recorded in the packl's
history, like ``pipl packl add``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pipl_pipe.entrypoints import EntryPointIndex, Plugin, default_index, normalize
from pipl_pipe.errors import PipeError, TaskTypeError
from pipl_pipe.fsutil import atomic_write

if TYPE_CHECKING:
    from pipl_pipe.products import Product
    from pipl_pipe.pyproject import PyProject

TASK_GROUP = "pipl_pipe.task"
TASK_TYPE_GROUP = "pipl_pipe.task_type"
COMMANDS_GROUP = "pipl.commands"
PROCESS_GROUP = "pipl.process"
GENERATED = "# written by create_task"


class TaskType:
    """What a task of this type offers. Subclass and list it in ``pipl_pipe.task_type``."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    commands: ClassVar[dict[str, str]] = {}  # command -> "module:function"
    process: ClassVar[str | None] = None  # "module:function" run by the process handler


class Generic(TaskType):
    name = "generic"
    summary = "a task with no commands of its own"


@dataclass(frozen=True)
class Task:
    """A task packl as seen from its environment."""

    name: str
    type: str

    @classmethod
    def declare(cls, name: str, type: str) -> Task:
        return cls(name, type)

    @property
    def version(self) -> str:
        import importlib.metadata

        return importlib.metadata.version(self.name)

    def products(
        self, type: str | None = None, index: EntryPointIndex | None = None
    ) -> list[Product]:
        """The upstream products this task depends on, optionally of one type."""
        from pipl_pipe.products import products_required_by

        return products_required_by(self.name, type=type, index=index)


def current_task(index: EntryPointIndex | None = None) -> Task:
    """The task of this environment (``$PIPL_TASK`` chooses when several are installed)."""
    plugins = (index or default_index()).group(TASK_GROUP)
    wanted = os.environ.get("PIPL_TASK")
    if wanted:
        plugins = [p for p in plugins if normalize(p.dist) == normalize(wanted)]
    if len(plugins) != 1:
        names = ", ".join(sorted(p.dist for p in plugins)) or "none"
        raise TaskTypeError(
            f"expected one task in this environment, found {names}: set PIPL_TASK to choose"
        )
    task = plugins[0].load()
    if not isinstance(task, Task):
        raise TaskTypeError(f"entry point {plugins[0]} does not give a Task")
    return task


def task_types(index: EntryPointIndex | None = None) -> dict[str, tuple[Plugin, type[TaskType]]]:
    found = {}
    for plugin in (index or default_index()).group(TASK_TYPE_GROUP):
        cls = plugin.load()
        if not (isinstance(cls, type) and issubclass(cls, TaskType)):
            raise TaskTypeError(f"entry point {plugin} does not give a TaskType subclass")
        found[plugin.name] = (plugin, cls)
    return found


def create_task(packl_dir: Path, type_name: str, index: EntryPointIndex | None = None) -> list[str]:
    """Turn the packl in ``packl_dir`` into a task of ``type_name``; return what changed.
    The packl's pyproject is edited under its file lock."""
    from pipl_pipe.pyproject import PyProject

    types = task_types(index)
    if type_name not in types:
        raise TaskTypeError(
            f"unknown task type {type_name!r}: known types are "
            f"{', '.join(sorted(types)) or 'none'}; install the packl that "
            "defines it"
        )
    plugin, ttype = types[type_name]
    with PyProject.editing(packl_dir / "pyproject.toml") as pp:
        return _make_task(pp, packl_dir, type_name, plugin, ttype)


def _make_task(
    pp: PyProject, packl_dir: Path, type_name: str, plugin: Plugin, ttype: type[TaskType]
) -> list[str]:
    import tomlkit

    if pp.pipl.get("task-type") not in (None, Generic.name):
        raise TaskTypeError(f"{pp.name} is already a task of type {pp.pipl['task-type']!r}")
    flit = pp.doc.get("tool", {}).get("flit", {}).get("module", {})
    module = str(flit.get("name") or normalize(pp.name).replace("-", "_"))
    module_dir = packl_dir / module
    if not module_dir.is_dir():
        raise TaskTypeError(f"{pp.name} has no package folder {module_dir}")
    task_file = module_dir / "task.py"
    if task_file.exists() and GENERATED not in task_file.read_text():
        raise TaskTypeError(
            f"{task_file} exists and was not written by create_task; move it away first"
        )

    changes = []
    tool = pp.doc.setdefault("tool", tomlkit.table())
    pipl = tool.setdefault("pipl", tomlkit.table())
    pipl["kind"] = "task"
    pipl["task-type"] = type_name
    project = pp.project
    deps = project.setdefault("dependencies", tomlkit.array())
    provider = plugin.dist
    if normalize(provider) not in {
        normalize(
            str(d).split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip()
        )
        for d in deps
    }:
        deps.append(provider)
        changes.append(f"dependency {provider}")
    eps = project.setdefault("entry-points", tomlkit.table(is_super_table=True))
    _set_entry(eps, TASK_GROUP, pp.name, f"{module}.task:TASK")
    if ttype.commands:
        scripts = project.setdefault("scripts", tomlkit.table())
        for command, target in ttype.commands.items():
            scripts[command] = target
            _set_entry(eps, COMMANDS_GROUP, command, target)
            changes.append(f"command {command}")
    if ttype.process:
        _set_entry(eps, PROCESS_GROUP, pp.name, ttype.process)
        changes.append(f"process {ttype.process}")
    atomic_write(
        task_file,
        f'"""The task object of {pp.name}."""\n{GENERATED} '
        f"(type {type_name})\n\nfrom pipl_pipe.tasks import Task\n\n"
        f"TASK = Task.declare(name={pp.name!r}, type={type_name!r})\n",
    )
    changes.append(f"module {module}/task.py")
    pp.record("create_task", f"type {type_name} from {provider}: " + ", ".join(changes))
    return changes


def _set_entry(eps: object, group: str, name: str, target: str) -> None:
    import tomlkit

    table = eps.setdefault(group, tomlkit.table())  # type: ignore[attr-defined]  # tomlkit table
    table[name] = target


def _find_packl(name: str) -> Path:
    from pipl_pipe.config import WORKSPACE_MARKER

    start = Path(os.environ.get("PIPL_WORKSPACE") or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / WORKSPACE_MARKER).is_file():
            for candidate in sorted((folder / "packls").glob("*")):
                if normalize(candidate.name) == normalize(name):
                    return candidate
            raise TaskTypeError(f"no packl {name!r} in workspace {folder.name}")
    raise TaskTypeError("create_task runs inside a workspace (pipl work shell NAME)")


def _refresh(packl_dir: Path) -> str:
    """Reinstall the packl editable so its new entry points and commands exist."""
    uv = os.environ.get("PIPL_UV") or shutil.which("uv")
    if uv:
        argv = [uv, "pip", "install", "--quiet", "--python", sys.executable, "-e", str(packl_dir)]
    else:
        argv = [sys.executable, "-m", "pip", "install", "--quiet", "-e", str(packl_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"reinstall it to use the new commands (installer said: {last})"
    return "reinstalled"


def main(argv: list[str] | None = None) -> int:
    """``create_task NAME TYPE`` in a workspace shell (pipl adds ``--result PATH``)."""
    from pipl_pipe.answer import respond, split_result

    args, result = split_result(sys.argv[1:] if argv is None else argv)
    refresh = "--no-refresh" not in args
    args = [a for a in args if a != "--no-refresh"]
    if len(args) != 2 or args[0] in ("-h", "--help"):
        print("usage: create_task PACKL TASK_TYPE   (turns a packl into a task)", file=sys.stderr)
        types = ", ".join(sorted(task_types())) if args[:1] != ["-h"] else ""
        if types:
            print(f"task types here: {types}", file=sys.stderr)
        return 2

    def packl_dir() -> Path:
        return _find_packl(args[0]) if "/" not in args[0] else Path(args[0])

    if result is not None:
        return respond(result, lambda: create_task(packl_dir(), args[1]))
    try:
        folder = packl_dir()
        changes = create_task(folder, args[1])
    except PipeError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    status = _refresh(folder) if refresh else "not reinstalled (--no-refresh)"
    print(f"{folder.name} is now a {args[1]} task: {', '.join(changes)}; {status}")
    return 0


if __name__ == "__main__":
    # run the imported module, not this __main__ copy, so that classes packls subclass
    # (and isinstance checks) are the same objects
    from pipl_pipe.tasks import main as _main

    raise SystemExit(_main())
