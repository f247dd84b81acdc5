"""The segment environment: what a segment's code sees while one of its instances runs.

Pipelet's names, as methods of ``Environment`` and, for segment scripts, as globals:
``seg_input``, ``get_input``, ``set_output``/``seg_output``, ``get_data_fn``,
``glob_parent``, ``glob_seg``, ``get_tmp_fn``, ``save_param``/``load_param``/``expose``,
``save_products``/``load_products``, ``logged_subprocess``, ``logger`` and ``hook``.
"""

from __future__ import annotations

import glob as globmod
import json
import logging
import os
import pickle
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipl_pipe.errors import PipeError

PARAMS_FILE = ".params.pkl"
PARAMS_TEXT = ".params.json"  # the same values as text, for those who only look at them
TEXT_CHARS = 300
UNSET = object()


class SegmentError(PipeError):
    """A segment used its environment wrongly (an unknown parent, a missing hook...)."""


class Environment:
    """One instance's view of the pipeline. ``seg_input`` is a dict keyed by parent name
    (``<seg>_phantom`` for pushed inputs of an orphan segment), or, under ``group_by``, the
    list of the class's elements (each such a dict); ``group`` is then the class value,
    what ``get_input()`` gives, as in Pipelet."""

    def __init__(
        self,
        *,
        segment: str,
        instance: str,
        data_dir: str | Path,
        seg_input: Any,
        parent_dirs: dict[str, list[str]],
        segment_roots: dict[str, str],
        hooks: dict[str, tuple[str, str]],
        params: dict[str, Any],
        logger: logging.Logger,
        grouped: bool = False,
        group: Any = None,
    ) -> None:
        self.segment = segment
        self.instance = instance
        self._data = str(data_dir)
        self.seg_input = seg_input
        self.parent_dirs = parent_dirs
        self.segment_roots = segment_roots
        self.hooks = hooks
        self.params = dict(params)
        self.logger = logger
        self.grouped = grouped
        self.group = group
        self.output: Any = UNSET
        self.namespace: dict[str, Any] = {}

    @property
    def data_dir(self) -> Path:
        """This instance's folder."""
        return Path(self._data)

    # --- input and output ---------------------------------------------------------------
    def get_input(self, seg: str | None = None) -> Any:
        """The input from parent ``seg`` (default: the first parent, or the pushed value).
        Under ``group_by``, ``get_input()`` is the class value (Pipelet: "the original
        tuple is lost and replaced by the result of the class function") and
        ``get_input(seg)`` the list of parent ``seg``'s values over the class."""
        if self.grouped:
            if seg is None:
                return self.group
            return [element[seg] for element in self.seg_input or [] if seg in element]
        if not isinstance(self.seg_input, dict) or not self.seg_input:
            return None
        if seg is None:
            return next(iter(self.seg_input.values()))
        if seg not in self.seg_input:
            if f"{seg}_phantom" in self.seg_input:
                return self.seg_input[f"{seg}_phantom"]
            raise SegmentError(
                f"segment {self.segment}: no input from {seg!r} "
                f"(its inputs come from {', '.join(self.seg_input)})"
            )
        return self.seg_input[seg]

    def set_output(self, value: Any) -> None:
        """This instance's outputs: a list, or one value (made a list of one)."""
        self.output = list(value) if isinstance(value, list) else [value]

    # --- files --------------------------------------------------------------------------
    def get_data_fn(self, basename: str, seg: str | None = None) -> str:
        """``basename`` inside this instance's data folder (or inside the folder of the
        instance of parent ``seg`` that fed this one)."""
        if seg is None or seg == self.segment:
            return os.path.join(self._data, basename)
        dirs = self.parent_dirs.get(seg)
        if not dirs:
            raise SegmentError(f"segment {self.segment}: {seg!r} is not a parent")
        return str(Path(dirs[0]) / basename)

    def glob_parent(self, pattern: str, segs: Sequence[str] | None = None) -> list[str]:
        """Files matching ``pattern`` in the data folders of the parent instances that
        fed this one (only those of ``segs`` if given)."""
        found: list[str] = []
        for seg, dirs in self.parent_dirs.items():
            if segs is None or seg in segs:
                for d in dirs:
                    found += sorted(globmod.glob(os.path.join(d, pattern)))
        return found

    def glob_seg(self, seg: str, pattern: str) -> list[str]:
        """Files matching ``pattern`` in every instance folder of upstream segment ``seg``
        (whether or not they fed this instance: use sparingly)."""
        root = self.segment_roots.get(seg)
        if root is None:
            raise SegmentError(f"segment {self.segment}: {seg!r} is not upstream of it")
        return sorted(globmod.glob(os.path.join(root, "data", "*", pattern)))

    def get_tmp_fn(self, suffix: str = "") -> str:
        """A new temporary file name inside this instance's folder."""
        fd, name = tempfile.mkstemp(prefix="tmp-", suffix=suffix, dir=self.data_dir)
        os.close(fd)
        return name

    # --- parameters ---------------------------------------------------------------------
    def _params_path(self, seg: str | None) -> Path:
        return Path(self.get_data_fn(PARAMS_FILE, seg))

    def save_param(self, names: Sequence[str], glo: dict[str, Any] | None = None) -> None:
        """Save the named variables of the segment's namespace with this instance."""
        space = self.namespace if glo is None else glo
        saved = self._read_params(None)
        for name in names:
            if name not in space:
                raise SegmentError(f"segment {self.segment}: save_param: no variable {name!r}")
            saved["values"][name] = space[name]
        self._write_params(saved)

    def expose(self, names: Sequence[str], glo: dict[str, Any] | None = None) -> None:
        """Save the named variables and mark them as shown by ``pipl pipe status``."""
        self.save_param(names, glo)
        saved = self._read_params(None)
        saved["exposed"] = sorted({*saved["exposed"], *names})
        self._write_params(saved)

    def _write_params(self, saved: dict[str, Any]) -> None:
        """The saved values for ``load_param`` (pickled), and as text beside them for the
        dashboard, which reads no pickle."""
        path = self._params_path(None)
        _write_pickle(path, saved)
        text = {
            "values": {str(k): _short(v) for k, v in saved["values"].items()},
            "exposed": [str(n) for n in saved["exposed"]],
        }
        tmp = path.with_name(f".{PARAMS_TEXT}.tmp")
        tmp.write_text(json.dumps(text, sort_keys=True))
        os.replace(tmp, path.with_name(PARAMS_TEXT))

    def load_param(
        self, seg: str, glo: dict[str, Any] | None = None, names: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """The parameters saved by the instance of parent ``seg`` that fed this one; also
        put into ``glo`` (default: the segment's namespace)."""
        values = self._read_params(seg)["values"]
        chosen = {k: v for k, v in values.items() if names is None or k in names}
        (self.namespace if glo is None else glo).update(chosen)
        return chosen

    def _read_params(self, seg: str | None) -> dict[str, Any]:
        path = self._params_path(seg)
        if not path.exists():
            return {"values": {}, "exposed": []}
        with open(path, "rb") as fh:
            data: dict[str, Any] = pickle.load(fh)  # noqa: S301  # written by this pipeline
        return data

    # --- products -----------------------------------------------------------------------
    def save_products(
        self, filename: str, glo: dict[str, Any] | None = None, names: Sequence[str] = ()
    ) -> None:
        """Pickle the named variables to ``filename`` (relative: in this instance)."""
        space = self.namespace if glo is None else glo
        _write_pickle(self._path(filename), {n: space[n] for n in names})

    def load_products(
        self, filename: str, glo: dict[str, Any] | None = None, names: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Unpickle ``filename`` and update the namespace with ``names`` (default all)."""
        with open(self._path(filename), "rb") as fh:
            data: dict[str, Any] = pickle.load(fh)  # noqa: S301  # written by save_products
        chosen = {k: v for k, v in data.items() if not names or k in names}
        (self.namespace if glo is None else glo).update(chosen)
        return chosen

    def _path(self, filename: str) -> Path:
        path = Path(filename)
        return path if path.is_absolute() else self.data_dir / path

    # --- processes and hooks ------------------------------------------------------------
    def logged_subprocess(self, args: Sequence[str], name: str | None = None) -> int:
        """Run a program (an argv list, no shell); its output goes to NAME.log and
        NAME.err in this instance's folder. Returns the exit code; a failure raises."""
        label = name or Path(str(args[0])).name
        with (
            open(self.data_dir / f"{label}.log", "wb") as out,
            open(self.data_dir / f"{label}.err", "wb") as err,
        ):
            proc = subprocess.run([str(a) for a in args], stdout=out, stderr=err, check=False)
        self.logger.info("%s exited with %d", label, proc.returncode)
        if proc.returncode != 0:
            raise SegmentError(
                f"segment {self.segment}: {label} exited with {proc.returncode} "
                f"(see {self.data_dir / (label + '.err')})"
            )
        return proc.returncode

    def hook(self, name: str, glo: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run the hook script ``<segment>_<name>.py`` in ``glo`` (default: the segment's
        namespace) and return that namespace."""
        if name not in self.hooks:
            raise SegmentError(
                f"segment {self.segment}: no hook {name!r} (write {self.segment}_{name}.py "
                "beside the segment script)"
            )
        filename, source = self.hooks[name]
        space = self.namespace if glo is None else glo
        exec(compile(source, filename, "exec"), space)  # noqa: S102  # the pipeline's own code
        return space

    def globals(self) -> dict[str, Any]:
        """The namespace a segment script runs in."""
        space: dict[str, Any] = {
            "__name__": f"segment_{self.segment}",
            "seg_input": self.seg_input,
            "seg_output": None,
            "params": self.params,
            "logger": self.logger,
            "env": self,
        }
        for name in EXPORTED:
            if name not in space:
                space[name] = getattr(self, name)
        self.namespace = space
        return space


EXPORTED = (
    "get_input",
    "set_output",
    "get_data_fn",
    "glob_parent",
    "glob_seg",
    "get_tmp_fn",
    "save_param",
    "load_param",
    "expose",
    "save_products",
    "load_products",
    "logged_subprocess",
    "hook",
)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 3] + "..."


def _write_pickle(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
