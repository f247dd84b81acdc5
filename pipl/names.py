"""Validation of every name that reaches a path, a URL or a command line.

Names are checked once, where they enter pipl, and rejected with a message that says
which name was wrong and what a good one looks like.
"""

from __future__ import annotations

import re

from pipl.errors import UsageError

# devpi user and index names, project names, stage, workarea and workspace names.
_SIMPLE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$")
# PEP 508 distribution names.
_DIST = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)

RESERVED_USERS = frozenset({"root"})


def check_simple(name: str, what: str) -> str:
    """Return ``name`` if it is a safe simple name, else raise ``UsageError``."""
    if not isinstance(name, str) or not _SIMPLE.match(name) or ".." in name:
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


def normalize_dist(name: str) -> str:
    """PEP 503 normalized form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def check_dist(name: str, what: str = "package") -> str:
    """Check a distribution (packl) name against PEP 508 and return it unchanged."""
    if not isinstance(name, str) or not _DIST.match(name):
        raise UsageError(
            f"invalid {what} name {name!r}: use letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    return name
