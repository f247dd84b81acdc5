"""pipl's devpi-server plugin, loaded by devpi through the ``devpi_server`` entry point.

It runs inside devpi-server's process, so it stays small, imports nothing heavy and never
raises into devpi. For now it declares pipl's index options:

- ``pipl_handlers``: names of the CI handlers run for a release uploaded to the index;
- ``pipl_promote_to``: the index a release that passed its handlers is pushed to.
"""

from __future__ import annotations

from typing import Any

from pluggy import HookimplMarker

hookimpl = HookimplMarker("devpiserver")

FEATURE = "pipl"
INDEX_OPTIONS: dict[str, Any] = {"pipl_handlers": [], "pipl_promote_to": ""}


@hookimpl
def devpiserver_get_features() -> set[str]:
    return {FEATURE}


@hookimpl
def devpiserver_indexconfig_defaults(index_type: str) -> dict[str, Any]:
    if index_type != "stage":
        return {}
    return {
        key: (list(value) if isinstance(value, list) else value)
        for key, value in INDEX_OPTIONS.items()
    }
