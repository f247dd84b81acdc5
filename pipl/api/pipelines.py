"""Pipelines: their graphs, runs, instances with logs and parameters, tags, deletion,
each segment's code per key, and two keys of a segment compared.

The project's pipelines are those with data under ``PROJECT/.pipl/pipe-data/`` (where
CI's ``process`` handler keeps them) and those run in a workspace and tracked with
``pipl pipe track``. Instances are named by their segment and instance names, under the
segment's current key (the key of the last run) unless ``key`` says otherwise; several
at once as ``"SEGMENT/INSTANCE"`` texts.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Run:
    """A run of a pipeline: ``status`` queued, running, cancelling (asked to stop), done,
    failed, cancelled, error, interrupted."""

    id: int
    status: str
    started: float | None
    finished: float | None
    executor: str
    ran: int
    reused: int
    failed: int
    message: str = ""  # why a run could not run
    revision: str = ""  # the git commit of the pipeline's code ("+modified": with changes)


@dataclass(frozen=True)
class PipelineSummary:
    name: str
    segments: int
    counts: dict[str, int]  # instances under the current keys, by status (done, failed)
    last_run: Run | None = None
    source: str = "ci"  # "ci": run by CI; "workspace": run in a workspace and tracked


@dataclass(frozen=True)
class Segment:
    name: str
    key: str  # the key of the last run
    parents: list[str]
    counts: dict[str, int]  # instances by status: done, failed


@dataclass(frozen=True)
class Graph:
    """A pipeline's DAG: segments (parents first) with their counts, edges, and the
    picture (``svg``, when asked for and graphviz is installed)."""

    name: str
    segments: list[Segment]
    edges: list[list[str]]  # [parent, child]
    dot: str
    svg: str | None = None


@dataclass(frozen=True)
class Status:
    name: str
    segments: list[Segment]
    runs: list[Run]  # newest first
    source: str = "ci"  # "workspace": tracked, run in its workspace (not from the server)


@dataclass(frozen=True)
class Instance:
    segment: str
    key: str
    name: str
    status: str  # done or failed
    started: float | None
    seconds: float | None
    run_id: int | None
    error: str  # the exception's line, for a failed instance
    input: str  # the instance's input, as JSON text
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class InstancePage:
    total: int  # instances matching the filter, on all pages
    offset: int
    limit: int
    instances: list[Instance]


@dataclass(frozen=True)
class DataFile:
    name: str  # the path inside the instance's folder
    size: int


@dataclass(frozen=True)
class InstanceDetail:
    """One instance: its parameters (the segment's ``params``, what the instance saved with
    ``save_param`` and, apart, what it ``expose``d), its log (its end, when ``log_cut``),
    its files, the code revision of the run that made it, and how many instances
    downstream used it."""

    instance: Instance
    params: dict[str, str]
    saved: dict[str, str]
    log: str
    log_cut: bool
    files: list[DataFile]
    exposed: dict[str, str] = field(default_factory=dict)
    revision: str = ""
    dependents: int = 0


@dataclass(frozen=True)
class FileContent:
    name: str
    size: int
    content_base64: str

    @property
    def content(self) -> bytes:
        return base64.b64decode(self.content_base64)


@dataclass(frozen=True)
class CodeFile:
    role: str  # "script", "hook NAME", "depend" or "other"
    name: str  # the file's name (a #depend file: the path its segment gave)
    size: int
    text: str | None  # None: binary, or too long to show


@dataclass(frozen=True)
class SegmentCode:
    """What entered a segment's key: its code, hooks, ``#depend`` files, parameters, its
    parents' keys, and the code revisions of the runs that made its instances."""

    segment: str
    key: str
    created: float | None
    source: str
    entry: str
    dist: str
    multiplex: str
    env: str
    parents: dict[str, str]
    params: dict[str, str]
    files: list[CodeFile]
    revisions: list[str]


@dataclass(frozen=True)
class SegmentKey:
    """One key a segment had (``current``: the key of the last run)."""

    key: str
    created: float | None
    counts: dict[str, int]
    current: bool


@dataclass(frozen=True)
class Difference:
    part: str  # "script", "hook NAME", "depend PATH", "param NAME", "parent NAME", ...
    a: str
    b: str
    diff: str = ""


@dataclass(frozen=True)
class Side:
    name: str  # the instance's name under this key
    status: str
    input: str
    files: list[str]
    exposed: dict[str, str]
    error: str = ""


@dataclass(frozen=True)
class Pair:
    """An instance under each key (None: none under that key), paired by what fed them:
    the same parent instances, or the same pushed value."""

    name: str
    a: Side | None
    b: Side | None


@dataclass(frozen=True)
class Comparison:
    """Two processings of a segment: ``a`` (an older key) beside ``b``."""

    segment: str
    a: SegmentCode
    b: SegmentCode
    counts_a: dict[str, int]
    counts_b: dict[str, int]
    differences: list[Difference]
    instances: list[Pair]
    total: int
    offset: int = 0
    limit: int = 50
