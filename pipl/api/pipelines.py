"""Pipelines: their graphs, runs, instances with logs and parameters, tags, deletion.

The project's pipelines are those with data under ``PROJECT/.pipl/pipe-data/`` (where
CI's ``process`` handler keeps them). Instances are named by their segment and instance
names, under the segment's current key (the key of the last run) unless ``key`` says
otherwise.
"""

from __future__ import annotations

import base64
import builtins
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


@dataclass(frozen=True)
class PipelineSummary:
    name: str
    segments: int
    counts: dict[str, int]  # instances under the current keys, by status (done, failed)
    last_run: Run | None = None


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
    """One instance: its parameters (the segment's ``params`` and what the instance saved
    with ``save_param``/``expose``), its log (its end, when ``log_cut``), its files."""

    instance: Instance
    params: dict[str, str]
    saved: dict[str, str]
    log: str
    log_cut: bool
    files: list[DataFile]


@dataclass(frozen=True)
class FileContent:
    name: str
    size: int
    content_base64: str

    @property
    def content(self) -> bytes:
        return base64.b64decode(self.content_base64)


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
        offset: int = 0,
        limit: int = 50,
    ) -> InstancePage:
        answer = self._client._call(
            "pipelines.instances",
            pipeline=pipeline,
            segment=segment,
            status=status,
            tag=tag,
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

    def delete(self, pipeline: str, segment: str, instance: str) -> Instance:
        """Delete the instance's data (the next run computes it again); what was deleted."""
        answer = self._client._call(
            "pipelines.delete", pipeline=pipeline, segment=segment, instance=instance
        )
        return build(Instance, answer)
