"""Segment keys: what decides whether stored outputs can be reused.

A key covers the segment's code (script or packl module and version), its hook scripts,
its ``#depend`` files, the content of the editable and local-path code it uses, its
parameters, its multiplex directive, its parents' keys and its environment's lock. Change
any of these and the segment (and everything downstream) gets a new key, so a new folder,
so a new computation.

``key_inputs`` gives a digest of each of these inputs apart, kept with the segment when a
run records it: a dry run compares them with the current ones to say which input changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from pipl.pipe.code import SegmentCode

KEY_LENGTH = 10
DIGEST_LENGTH = 16


def _parts(
    code: SegmentCode, params: dict[str, Any], parent_keys: dict[str, str], env_lock: str
) -> Iterator[tuple[str, str, bytes]]:
    """``(input, label, data)`` in the order the key hashes them; ``input`` names what a
    user changes (``code``, ``hook NAME``, ``depend FILE``, ``params``, ``multiplex``,
    ``parent NAME``, ``env``), several labels may belong to one input."""
    yield "code", "code", code.source.encode()
    yield "code", "entry", code.entry.encode()
    yield "code", "dist", code.dist.encode()
    for hook in sorted(code.hooks):
        yield f"hook {hook}", f"hook {hook}", code.hooks[hook][1].encode()
    for dep in sorted(code.depend):
        yield f"depend {dep}", f"depend {dep}", code.depend[dep]
    for source in sorted(code.sources):  # none: the key is what it was before sources
        yield f"source {source}", f"source {source}", code.sources[source].encode()
    yield "multiplex", "multiplex", str(code.multiplex).encode()
    yield "params", "params", json.dumps(params, sort_keys=True, default=repr).encode()
    for parent in sorted(parent_keys):
        yield f"parent {parent}", f"parent {parent}", parent_keys[parent].encode()
    yield "env", "env", env_lock.encode()


def segment_key(
    code: SegmentCode, params: dict[str, Any], parent_keys: dict[str, str], env_lock: str
) -> str:
    h = hashlib.sha256()
    for _, label, raw in _parts(code, params, parent_keys, env_lock):
        h.update(f"{label}:{len(raw)}:".encode())
        h.update(raw)
    return h.hexdigest()[:KEY_LENGTH]


def key_inputs(
    code: SegmentCode, params: dict[str, Any], parent_keys: dict[str, str], env_lock: str
) -> dict[str, str]:
    """A short digest of each input of the key, by input name (a parent's is its key)."""
    hashes: dict[str, Any] = {}
    for name, label, raw in _parts(code, params, parent_keys, env_lock):
        h = hashes.setdefault(name, hashlib.sha256())
        h.update(f"{label}:{len(raw)}:".encode())
        h.update(raw)
    found = {name: h.hexdigest()[:DIGEST_LENGTH] for name, h in hashes.items()}
    found.update({f"parent {p}": k for p, k in parent_keys.items()})
    return found


def changed_inputs(before: dict[str, str], now: dict[str, str]) -> list[str]:
    """The inputs whose digest differs, or that appeared or went away, in key order
    (``parent X`` says that parent's key changed; a new or gone parent says so)."""
    changed = []
    for name in [*now, *(n for n in before if n not in now)]:
        if name not in before:
            changed.append(f"{name} (new)" if name.startswith("parent ") else name)
        elif name not in now:
            changed.append(f"{name} (gone)" if name.startswith("parent ") else name)
        elif before[name] != now[name]:
            changed.append(name)
    return list(dict.fromkeys(changed))
