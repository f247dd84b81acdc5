"""Validation of every name that reaches a path, a URL or a command line.

Names are checked once, where they enter pipl, and rejected with a message that says
which name was wrong and what a good one looks like.
"""

from __future__ import annotations

import keyword
import re
import sys

from pipl.errors import UsageError

# devpi user and index names, project names, stage, workarea and workspace names.
_SIMPLE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$")
# PEP 508 distribution names.
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+!-]{0,250}$")  # a release file's name
_DIST = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)

# a packl's name becomes a folder, a module and part of its files' names (name-1.2.3-py3-
# none-any.whl): short enough for every file system
MAX_DIST = 100


def _shown(name: object) -> str:
    """``name`` for an error message: quoted, and cut when it is long."""
    if isinstance(name, str) and len(name) > 40:
        return f"{name[:32]!r}... ({len(name)} characters)"
    return repr(name)


def check_simple(name: str, what: str) -> str:
    """Return ``name`` if it is a safe simple name, else raise ``UsageError``."""
    if not isinstance(name, str) or not _SIMPLE.fullmatch(name) or ".." in name:
        raise UsageError(
            f"invalid {what} name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    return name


def check_user(name: str) -> str:
    return check_simple(name, "user")


def check_index(name: str) -> str:
    """Check a full index name ``user/index`` and return it."""
    user, sep, index = name.partition("/")
    if not sep:
        raise UsageError(f"invalid index name {name!r}: write it as USER/INDEX, e.g. 'demo/dev'")
    check_user(user)
    check_simple(index, "index")
    return name


def check_stages(stages: list[str]) -> list[str]:
    """Check an ordered list of stage names (first stage first)."""
    if not stages:
        raise UsageError("no stages given: name at least one, e.g. --stages dev,qa,prod")
    for stage in stages:
        check_simple(stage, "stage")
    if len(set(stages)) != len(stages):
        raise UsageError(f"stages must be unique, got {','.join(stages)}")
    if "base" in stages:
        raise UsageError("'base' is the project's base index and cannot be a stage name")
    return stages


def is_release_filename(name: str) -> bool:
    """Whether ``name`` can be a release file's name (a wheel's, an sdist's): one plain
    path segment, never ``..``."""
    return isinstance(name, str) and bool(_FILE.match(name)) and ".." not in name


def normalize_dist(name: str) -> str:
    """PEP 503 normalized form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def check_dist(name: str, what: str = "package") -> str:
    """Check a distribution (packl) name against PEP 508 and return it unchanged."""
    if not isinstance(name, str) or not _DIST.fullmatch(name):
        raise UsageError(
            f"invalid {what} name {_shown(name)}: use letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    if len(name) > MAX_DIST:
        raise UsageError(f"invalid {what} name {_shown(name)}: use at most {MAX_DIST} characters")
    return name


def packl_module(name: str) -> str:
    """The module of packl ``name`` (``Shot-010`` -> ``shot_010``), if Python can import it
    as the packl's own: an identifier, not a keyword, not a standard library module."""
    check_dist(name, "packl")
    module = normalize_dist(name).replace("-", "_")
    if not module.isidentifier():
        problem = "which is not a Python identifier: start it with a letter"
    elif keyword.iskeyword(module):
        problem = "a Python keyword: pick another name"
    elif module in sys.stdlib_module_names:
        problem = (
            "a module of Python's standard library, which it would clash with: pick another name"
        )
    else:
        return module
    raise UsageError(f"packl name {name!r} gives the module name {module!r}, {problem}")
