"""docs/api.md lists exactly the operations of pipl's API, with their requests and access."""

from __future__ import annotations

import re
from pathlib import Path

from pipl.api import service
from pipl.api.ops import OPS

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def test_the_api_page_lists_every_operation_as_declared() -> None:
    service._load_domains()
    rows = re.findall(r"^\| `([\w.]+)` \| `(GET|POST) (\S+)` \| (\w+) \|", DOC.read_text(), re.M)
    documented = {name: (method, path, access) for name, method, path, access in rows}
    declared = {op.name: (op.method, op.path, op.access) for op in OPS.values()}
    assert documented == declared
    # every operation is carried out on the project's side
    assert set(declared) == set(service.HANDLERS)
