"""The pipelines operations of pipl's API as typed functions of a client, one each.

Written by ``make api`` (``pipl.api.codegen``) from the functions of ``pipl.api.service``
that carry the operations out: change those, not this file.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from pipl.api.models import value_of
from pipl.api.ops import Route
from pipl.api.pipelines import (
    Comparison,
    FileContent,
    Graph,
    Instance,
    InstanceDetail,
    InstancePage,
    PipelineSummary,
    Run,
    SegmentCode,
    SegmentKey,
    Status,
)

if TYPE_CHECKING:
    from pipl.api.client.remote import Sender


PIPELINES_LIST = Route("pipelines.list", "GET", "/api/v1/pipelines")


def pipelines_list(client: Sender) -> builtins.list[PipelineSummary]:
    """The project's pipelines: those CI processed and those tracked from a workspace."""
    answer: builtins.list[PipelineSummary] = value_of(
        builtins.list[PipelineSummary], client.send(PIPELINES_LIST, {})
    )
    return answer


PIPELINES_GRAPH = Route("pipelines.graph", "GET", "/api/v1/pipelines/{pipeline}")


def pipelines_graph(client: Sender, pipeline: str, svg: bool = False) -> Graph:
    """The pipeline's segments and their edges (with ``svg``: drawn by graphviz when it is
    installed)."""
    answer: Graph = value_of(
        Graph, client.send(PIPELINES_GRAPH, {"pipeline": pipeline, "svg": svg})
    )
    return answer


PIPELINES_STATUS = Route("pipelines.status", "GET", "/api/v1/pipelines/{pipeline}/status")


def pipelines_status(client: Sender, pipeline: str, runs: int = 5) -> Status:
    """The pipeline's instance counts by segment and state, and its last ``runs`` runs."""
    answer: Status = value_of(
        Status, client.send(PIPELINES_STATUS, {"pipeline": pipeline, "runs": runs})
    )
    return answer


PIPELINES_RUN = Route("pipelines.run", "POST", "/api/v1/pipelines/{pipeline}/run")


def pipelines_run(client: Sender, pipeline: str) -> Run:
    """Start the pipeline again (only what is not computed yet is computed); returns at once
    with the queued run: ``status(pipeline).runs`` follows it."""
    answer: Run = value_of(Run, client.send(PIPELINES_RUN, {"pipeline": pipeline}))
    return answer


PIPELINES_CANCEL = Route("pipelines.cancel", "POST", "/api/v1/pipelines/{pipeline}/cancel")


def pipelines_cancel(client: Sender, pipeline: str, run: int | None = None) -> Run:
    """Ask the pipeline's running run (or ``run``) to stop; returns at once with it: a queued
    run is ``cancelled`` already, a running one ``cancelling`` until its workers are stopped
    (``status(pipeline).runs`` follows it). What finished stays."""
    answer: Run = value_of(Run, client.send(PIPELINES_CANCEL, {"pipeline": pipeline, "run": run}))
    return answer


PIPELINES_CODE = Route("pipelines.code", "GET", "/api/v1/pipelines/{pipeline}/code/{segment}")


def pipelines_code(
    client: Sender, pipeline: str, segment: str, key: str | None = None
) -> SegmentCode:
    """What entered the segment's key (its current one, or ``key``)."""
    answer: SegmentCode = value_of(
        SegmentCode,
        client.send(PIPELINES_CODE, {"pipeline": pipeline, "segment": segment, "key": key}),
    )
    return answer


PIPELINES_KEYS = Route("pipelines.keys", "GET", "/api/v1/pipelines/{pipeline}/keys/{segment}")


def pipelines_keys(client: Sender, pipeline: str, segment: str) -> builtins.list[SegmentKey]:
    """The keys the segment has had, newest first, with their instance counts."""
    answer: builtins.list[SegmentKey] = value_of(
        builtins.list[SegmentKey],
        client.send(PIPELINES_KEYS, {"pipeline": pipeline, "segment": segment}),
    )
    return answer


PIPELINES_COMPARE = Route(
    "pipelines.compare", "GET", "/api/v1/pipelines/{pipeline}/compare/{segment}"
)


def pipelines_compare(
    client: Sender,
    pipeline: str,
    segment: str,
    a: str | None = None,
    b: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Comparison:
    """Keys ``a`` and ``b`` of the segment side by side (default: the key before the current
    one, and the current one)."""
    answer: Comparison = value_of(
        Comparison,
        client.send(
            PIPELINES_COMPARE,
            {
                "pipeline": pipeline,
                "segment": segment,
                "a": a,
                "b": b,
                "offset": offset,
                "limit": limit,
            },
        ),
    )
    return answer


PIPELINES_INSTANCES = Route("pipelines.instances", "GET", "/api/v1/pipelines/{pipeline}/instances")


def pipelines_instances(
    client: Sender,
    pipeline: str,
    segment: str | None = None,
    status: str | None = None,
    tag: str | None = None,
    since: float | None = None,
    until: float | None = None,
    offset: int = 0,
    limit: int = 50,
) -> InstancePage:
    """One page of instances; ``since``/``until`` keep those started from ``since`` and before
    ``until`` (epoch seconds, or dates and datetimes; a date is UTC midnight)."""
    answer: InstancePage = value_of(
        InstancePage,
        client.send(
            PIPELINES_INSTANCES,
            {
                "pipeline": pipeline,
                "segment": segment,
                "status": status,
                "tag": tag,
                "since": since,
                "until": until,
                "offset": offset,
                "limit": limit,
            },
        ),
    )
    return answer


PIPELINES_INSTANCE = Route(
    "pipelines.instance", "GET", "/api/v1/pipelines/{pipeline}/instances/{segment}/{instance}"
)


def pipelines_instance(
    client: Sender, pipeline: str, segment: str, instance: str, key: str | None = None
) -> InstanceDetail:
    """One instance: its parameters, inputs, outputs, log and tags (its current key, or
    ``key``)."""
    answer: InstanceDetail = value_of(
        InstanceDetail,
        client.send(
            PIPELINES_INSTANCE,
            {"pipeline": pipeline, "segment": segment, "instance": instance, "key": key},
        ),
    )
    return answer


PIPELINES_FILE = Route(
    "pipelines.file",
    "GET",
    "/api/v1/pipelines/{pipeline}/instances/{segment}/{instance}/files/{path*}",
)


def pipelines_file(
    client: Sender, pipeline: str, segment: str, instance: str, path: str, key: str | None = None
) -> FileContent:
    """The content of the instance's data file ``path``."""
    answer: FileContent = value_of(
        FileContent,
        client.send(
            PIPELINES_FILE,
            {
                "pipeline": pipeline,
                "segment": segment,
                "instance": instance,
                "path": path,
                "key": key,
            },
        ),
    )
    return answer


PIPELINES_TAG = Route(
    "pipelines.tag", "POST", "/api/v1/pipelines/{pipeline}/instances/{segment}/{instance}/tag"
)


def pipelines_tag(
    client: Sender, pipeline: str, segment: str, instance: str, tag: str, key: str | None = None
) -> builtins.list[str]:
    """Add ``tag`` to the instance; its tags afterwards."""
    answer: builtins.list[str] = value_of(
        builtins.list[str],
        client.send(
            PIPELINES_TAG,
            {
                "pipeline": pipeline,
                "segment": segment,
                "instance": instance,
                "tag": tag,
                "key": key,
            },
        ),
    )
    return answer


PIPELINES_UNTAG = Route(
    "pipelines.untag", "POST", "/api/v1/pipelines/{pipeline}/instances/{segment}/{instance}/untag"
)


def pipelines_untag(
    client: Sender, pipeline: str, segment: str, instance: str, tag: str, key: str | None = None
) -> builtins.list[str]:
    """Take ``tag`` off the instance; its tags afterwards."""
    answer: builtins.list[str] = value_of(
        builtins.list[str],
        client.send(
            PIPELINES_UNTAG,
            {
                "pipeline": pipeline,
                "segment": segment,
                "instance": instance,
                "tag": tag,
                "key": key,
            },
        ),
    )
    return answer


PIPELINES_DELETE = Route(
    "pipelines.delete", "POST", "/api/v1/pipelines/{pipeline}/instances/{segment}/{instance}/delete"
)


def pipelines_delete(
    client: Sender,
    pipeline: str,
    segment: str,
    instance: str,
    key: str | None = None,
    dependents: bool = False,
) -> Instance:
    """Delete the instance's data (the next run computes it again), and the data of every
    instance downstream of it when ``dependents`` (see ``dependents()``)."""
    answer: Instance = value_of(
        Instance,
        client.send(
            PIPELINES_DELETE,
            {
                "pipeline": pipeline,
                "segment": segment,
                "instance": instance,
                "key": key,
                "dependents": dependents,
            },
        ),
    )
    return answer


PIPELINES_DEPENDENTS = Route(
    "pipelines.dependents",
    "GET",
    "/api/v1/pipelines/{pipeline}/instances/{segment}/{instance}/dependents",
)


def pipelines_dependents(
    client: Sender, pipeline: str, segment: str, instance: str, key: str | None = None
) -> builtins.list[Instance]:
    """The instances downstream of this one (those that used it, and so on)."""
    answer: builtins.list[Instance] = value_of(
        builtins.list[Instance],
        client.send(
            PIPELINES_DEPENDENTS,
            {"pipeline": pipeline, "segment": segment, "instance": instance, "key": key},
        ),
    )
    return answer


PIPELINES_DELETE_SELECTED = Route(
    "pipelines.delete_selected", "POST", "/api/v1/pipelines/{pipeline}/delete"
)


def pipelines_delete_selected(
    client: Sender,
    pipeline: str,
    instances: builtins.list[str] | None = None,
    dependents: bool = False,
) -> builtins.list[Instance]:
    """Delete the data of ``instances`` (``"SEGMENT/INSTANCE"``, current keys), with every
    instance downstream of them when ``dependents``; what was deleted."""
    answer: builtins.list[Instance] = value_of(
        builtins.list[Instance],
        client.send(
            PIPELINES_DELETE_SELECTED,
            {"pipeline": pipeline, "instances": instances, "dependents": dependents},
        ),
    )
    return answer


PIPELINES_TAG_SELECTED = Route("pipelines.tag_selected", "POST", "/api/v1/pipelines/{pipeline}/tag")


def pipelines_tag_selected(
    client: Sender,
    pipeline: str,
    tag: str,
    instances: builtins.list[str] | None = None,
    remove: bool = False,
) -> builtins.list[Instance]:
    """Put ``tag`` on each of ``instances`` (``"SEGMENT/INSTANCE"``), or take it off
    (``remove``); the instances afterwards."""
    answer: builtins.list[Instance] = value_of(
        builtins.list[Instance],
        client.send(
            PIPELINES_TAG_SELECTED,
            {"pipeline": pipeline, "tag": tag, "instances": instances, "remove": remove},
        ),
    )
    return answer
