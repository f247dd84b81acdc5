"""The unknown-key check of ``pipl.toml``: which tables and keys pipl knows.

An unknown key is looked up in one place (``unknown_in``): in a table that guards
something (``STRICT_TABLES``) it is an error when that table is read (``check_known``),
elsewhere a warning the CLI shows (``unknown_keys``, gathered when the project loads).
"""

from __future__ import annotations

import difflib
from typing import Any

from pipl.project.config.values import FILENAME, SettingError

# The keys of each of pipl's tables (``gates.*``: any stage's); another key there is most
# likely a typo.
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "project": ("name",),
    "server": ("host", "port", "pypi_mirror", "args", "storage", "postgresql", "primary_url"),
    "stages": ("order",),
    "ci": (
        "workers",
        "timeout",
        "retries",
        "handlers",
        "webhook",
        "sandbox",
        "executor",
        "scheduler",
        "resources",
    ),
    "ci.webhook": ("urls",),
    "ci.sandbox": ("enabled", "network", "memory_mb", "processes", "file_size_mb", "landlock"),
    "web": ("host", "port", "enabled"),
    "gates.*": ("qa", "wheel", "processing", "approvals", "reviewers"),
    "reviews": ("reviewers", "self_approval"),
    "qa": ("checks", "contracts"),
}
# Top-level tables read by pipl or pipl-pipe; other tables are left alone unless their
# name is close to one of these. ``[services]``, ``[config]`` and ``[ci.handlers]`` take
# names the user chooses.
KNOWN_TABLES: tuple[str, ...] = (
    *("project", "server", "stages", "ci", "web", "gates", "reviews", "qa"),
    *("services", "config"),
)
# Tables where a misspelt key would quietly weaken a check: an error, not a warning.
STRICT_TABLES = ("ci.sandbox", "gates.*", "qa")


def _known(table: str) -> tuple[str, ...]:
    return KNOWN_KEYS.get(table) or KNOWN_KEYS.get(f"{table.split('.')[0]}.*", ())


def _strict(table: str) -> bool:
    return table in STRICT_TABLES or f"{table.split('.')[0]}.*" in STRICT_TABLES


def unknown_in(table: str, data: dict[str, Any]) -> list[tuple[str, str]]:
    """The keys of ``data`` (the table ``table``, e.g. ``gates.prod``) that pipl does not
    know, each with a hint: the close match, else the known keys."""
    known = _known(table)
    found = []
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            found.append(
                (key, f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}")
            )
    return found


def check_known(table: str, data: dict[str, Any]) -> None:
    """Refuse the first unknown key of a strict table."""
    for key, hint in unknown_in(table, data)[:1]:
        raise SettingError(table, key, f"is not a setting ({hint})")


def _tables(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """pipl's tables in ``data`` (a whole file), with their dotted names."""
    found = []
    for name, value in data.items():
        if name not in KNOWN_TABLES or not isinstance(value, dict):
            continue
        if name == "gates":
            found += [(f"gates.{s}", t) for s, t in value.items() if isinstance(t, dict)]
            continue
        if name in KNOWN_KEYS:
            found.append((name, value))
        for sub in ("webhook", "sandbox") if name == "ci" else ():
            if isinstance(value.get(sub), dict):
                found.append((f"ci.{sub}", value[sub]))
    return found


def unknown_keys(data: dict[str, Any]) -> list[str]:
    """Warnings for what pipl does not know in ``data`` (a whole ``pipl.toml``): misspelt
    table names and keys. A strict table's unknown keys are left to ``check_known``, which
    refuses them when that table is read."""
    warnings = []
    for table in data:
        if table not in KNOWN_TABLES:
            close = difflib.get_close_matches(table, KNOWN_TABLES, n=1)
            if close:
                warnings.append(
                    f"unknown table [{table}] in {FILENAME} (did you mean [{close[0]}]?)"
                )
    for table, value in _tables(data):
        if not _strict(table):
            warnings += [
                f"unknown key {key!r} in [{table}] of {FILENAME} ({hint})"
                for key, hint in unknown_in(table, value)
            ]
    return warnings
