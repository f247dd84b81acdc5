"""devpi's mirror of PyPI (``root/pypi``), under the base index of a project that has it.

Left to its defaults, devpi answers a name its mirror has not seen yet by first fetching
PyPI's whole list of project names (hundreds of thousands of them, many seconds), once
after every server start, and only then asking for the name itself. pipl asks devpi to
skip the list (``mirror_no_project_list``): a name is looked up by itself, so a check
such as "is this packl name free?" costs one small request to PyPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipl.index.client import IndexClient

MIRROR_INDEX = "root/pypi"
MIRROR_SETTINGS: dict[str, Any] = {"mirror_no_project_list": True}


def set_up_mirror(admin: IndexClient) -> str:
    """Bring the mirror index in line with ``MIRROR_SETTINGS``; return what was done
    (``updated`` or ``unchanged``)."""
    config = admin.get_index(MIRROR_INDEX, projects=False)
    if all(config.get(key) == value for key, value in MIRROR_SETTINGS.items()):
        return "unchanged"
    admin.modify_index(MIRROR_INDEX, **MIRROR_SETTINGS)
    return "updated"
