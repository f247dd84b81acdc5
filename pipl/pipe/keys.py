"""Segment keys: what decides whether stored outputs can be reused.

A key covers the segment's code (script or packl module and version), its hook scripts,
its ``#depend`` files, the content of the editable and local-path code it uses, its
parameters, its multiplex directive, its parents' keys and its environment's lock. Change
any of these and the segment (and everything downstream) gets a new key, so a new folder,
so a new computation.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pipl.pipe.code import SegmentCode

KEY_LENGTH = 10


def segment_key(
    code: SegmentCode, params: dict[str, Any], parent_keys: dict[str, str], env_lock: str
) -> str:
    h = hashlib.sha256()

    def part(label: str, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        h.update(f"{label}:{len(raw)}:".encode())
        h.update(raw)

    part("code", code.source)
    part("entry", code.entry)
    part("dist", code.dist)
    for hook in sorted(code.hooks):
        part(f"hook {hook}", code.hooks[hook][1])
    for dep in sorted(code.depend):
        part(f"depend {dep}", code.depend[dep])
    for source in sorted(code.sources):  # none: the key is what it was before sources
        part(f"source {source}", code.sources[source])
    part("multiplex", str(code.multiplex))
    part("params", json.dumps(params, sort_keys=True, default=repr))
    for parent in sorted(parent_keys):
        part(f"parent {parent}", parent_keys[parent])
    part("env", env_lock)
    return h.hexdigest()[:KEY_LENGTH]
