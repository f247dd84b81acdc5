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
import builtins
import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipl.api.models import build, build_list
from pipl.api.ops import declare

if TYPE_CHECKING:
    from pipl.api.client import Client

INSTANCE = "/pipelines/{pipeline}/instances/{segment}/{instance}"
declare("pipelines.list", "GET", "/pipelines", summary="the project's pipelines")
declare("pipelines.graph", "GET", "/pipelines/{pipeline}", summary="a pipeline's graph")
declare("pipelines.status", "GET", "/pipelines/{pipeline}/status", summary="a pipeline's status")
declare("pipelines.run", "POST", "/pipelines/{pipeline}/run", "owner", "running a pipeline")
declare("pipelines.cancel", "POST", "/pipelines/{pipeline}/cancel", "owner", "cancelling a run")
declare("pipelines.instances", "GET", "/pipelines/{pipeline}/instances", summary="instances")
declare("pipelines.instance", "GET", INSTANCE, summary="an instance")
declare("pipelines.file", "GET", INSTANCE + "/files/{path*}", summary="an instance's data file")
declare("pipelines.tag", "POST", INSTANCE + "/tag", "owner", "tagging an instance")
declare("pipelines.untag", "POST", INSTANCE + "/untag", "owner", "untagging an instance")
declare("pipelines.delete", "POST", INSTANCE + "/delete", "owner", "deleting an instance's data")
declare("pipelines.dependents", "GET", INSTANCE + "/dependents", summary="downstream instances")
declare(
    "pipelines.delete_selected", "POST", "/pipelines/{pipeline}/delete", "owner", "deleting data"
)
declare("pipelines.tag_selected", "POST", "/pipelines/{pipeline}/tag", "owner", "tagging")
declare("pipelines.code", "GET", "/pipelines/{pipeline}/code/{segment}", summary="segment code")
declare("pipelines.keys", "GET", "/pipelines/{pipeline}/keys/{segment}", summary="segment keys")
declare("pipelines.compare", "GET", "/pipelines/{pipeline}/compare/{segment}", summary="two keys")


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


def _epoch(value: float | datetime.date | None) -> float | None:
    if value is None or isinstance(value, int | float):
        return value
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.UTC)
    return value.timestamp()


class PipelinesApi:
    """``client.pipelines``: the project's segment pipelines and their instances."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self) -> list[PipelineSummary]:
        return build_list(PipelineSummary, self._client._call("pipelines.list"))

    def graph(self, pipeline: str, *, svg: bool = False) -> Graph:
        return build(Graph, self._client._call("pipelines.graph", pipeline=pipeline, svg=svg))

    def status(self, pipeline: str) -> Status:
        return build(Status, self._client._call("pipelines.status", pipeline=pipeline))

    def run(self, pipeline: str) -> Run:
        """Start the pipeline again (only what is not computed yet is computed); returns
        at once with the queued run: ``status(pipeline).runs`` follows it."""
        return build(Run, self._client._call("pipelines.run", pipeline=pipeline))

    def cancel(self, pipeline: str, *, run: int | None = None) -> Run:
        """Ask the pipeline's running run (or ``run``) to stop; returns at once with it:
        a queued run is ``cancelled`` already, a running one ``cancelling`` until its
        workers are stopped (``status(pipeline).runs`` follows it). What finished stays."""
        return build(Run, self._client._call("pipelines.cancel", pipeline=pipeline, run=run))

    def instances(
        self,
        pipeline: str,
        *,
        segment: str | None = None,
        status: str | None = None,
        tag: str | None = None,
        since: float | datetime.date | None = None,
        until: float | datetime.date | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> InstancePage:
        """One page of instances; ``since``/``until`` keep those started from ``since``
        and before ``until`` (epoch seconds, or dates and datetimes; a date is UTC
        midnight)."""
        answer = self._client._call(
            "pipelines.instances",
            pipeline=pipeline,
            segment=segment,
            status=status,
            tag=tag,
            since=_epoch(since),
            until=_epoch(until),
            offset=offset,
            limit=limit,
        )
        return build(InstancePage, answer)

    def instance(
        self, pipeline: str, segment: str, instance: str, *, key: str | None = None
    ) -> InstanceDetail:
        answer = self._client._call(
            "pipelines.instance", pipeline=pipeline, segment=segment, instance=instance, key=key
        )
        return build(InstanceDetail, answer)

    def download(
        self, pipeline: str, segment: str, instance: str, path: str, *, key: str | None = None
    ) -> bytes:
        """The content of the instance's data file ``path``."""
        answer = self._client._call(
            "pipelines.file",
            pipeline=pipeline,
            segment=segment,
            instance=instance,
            path=path,
            key=key,
        )
        return build(FileContent, answer).content

    def tag(self, pipeline: str, segment: str, instance: str, tag: str) -> builtins.list[str]:
        """Add ``tag`` to the instance; its tags afterwards."""
        answer = self._client._call(
            "pipelines.tag", pipeline=pipeline, segment=segment, instance=instance, tag=tag
        )
        return list(answer)

    def untag(self, pipeline: str, segment: str, instance: str, tag: str) -> builtins.list[str]:
        answer = self._client._call(
            "pipelines.untag", pipeline=pipeline, segment=segment, instance=instance, tag=tag
        )
        return list(answer)

    def delete(
        self,
        pipeline: str,
        segment: str,
        instance: str,
        *,
        key: str | None = None,
        dependents: bool = False,
    ) -> Instance:
        """Delete the instance's data (the next run computes it again), and the data of
        every instance downstream of it when ``dependents`` (see ``dependents()``)."""
        answer = self._client._call(
            "pipelines.delete",
            pipeline=pipeline,
            segment=segment,
            instance=instance,
            key=key,
            dependents=dependents,
        )
        return build(Instance, answer)

    def dependents(
        self, pipeline: str, segment: str, instance: str, *, key: str | None = None
    ) -> builtins.list[Instance]:
        """The instances downstream of this one (those that used it, and so on)."""
        answer = self._client._call(
            "pipelines.dependents",
            pipeline=pipeline,
            segment=segment,
            instance=instance,
            key=key,
        )
        return build_list(Instance, answer)

    def delete_selected(
        self, pipeline: str, instances: builtins.list[str], *, dependents: bool = False
    ) -> builtins.list[Instance]:
        """Delete the data of ``instances`` (``"SEGMENT/INSTANCE"``, current keys), with
        every instance downstream of them when ``dependents``; what was deleted."""
        answer = self._client._call(
            "pipelines.delete_selected",
            pipeline=pipeline,
            instances=list(instances),
            dependents=dependents,
        )
        return build_list(Instance, answer)

    def tag_selected(
        self, pipeline: str, instances: builtins.list[str], tag: str, *, remove: bool = False
    ) -> builtins.list[Instance]:
        """Put ``tag`` on each of ``instances`` (``"SEGMENT/INSTANCE"``), or take it off
        (``remove``); the instances afterwards."""
        answer = self._client._call(
            "pipelines.tag_selected",
            pipeline=pipeline,
            instances=list(instances),
            tag=tag,
            remove=remove,
        )
        return build_list(Instance, answer)

    def code(self, pipeline: str, segment: str, *, key: str | None = None) -> SegmentCode:
        """What entered the segment's key (its current one, or ``key``)."""
        answer = self._client._call("pipelines.code", pipeline=pipeline, segment=segment, key=key)
        return build(SegmentCode, answer)

    def keys(self, pipeline: str, segment: str) -> builtins.list[SegmentKey]:
        """The keys the segment has had, newest first, with their instance counts."""
        answer = self._client._call("pipelines.keys", pipeline=pipeline, segment=segment)
        return build_list(SegmentKey, answer)

    def compare(
        self,
        pipeline: str,
        segment: str,
        *,
        a: str | None = None,
        b: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Comparison:
        """Keys ``a`` and ``b`` of the segment side by side (default: the key before the
        current one, and the current one)."""
        answer = self._client._call(
            "pipelines.compare",
            pipeline=pipeline,
            segment=segment,
            a=a,
            b=b,
            offset=offset,
            limit=limit,
        )
        return build(Comparison, answer)
