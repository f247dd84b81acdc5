"""``client.pipelines``: the project's segment pipelines and their instances."""

from __future__ import annotations

import builtins
import datetime

from pipl.api.client import operations as op
from pipl.api.client.remote import Domain, remote
from pipl.api.pipelines import Instance, InstancePage


class PipelinesApi(Domain):
    """``client.pipelines``: the project's segment pipelines and their instances."""

    list = remote(op.pipelines_list)
    graph = remote(op.pipelines_graph)
    status = remote(op.pipelines_status)
    run = remote(op.pipelines_run)
    cancel = remote(op.pipelines_cancel)
    instance = remote(op.pipelines_instance)
    tag = remote(op.pipelines_tag)
    untag = remote(op.pipelines_untag)
    delete = remote(op.pipelines_delete)
    dependents = remote(op.pipelines_dependents)
    code = remote(op.pipelines_code)
    keys = remote(op.pipelines_keys)
    compare = remote(op.pipelines_compare)

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
        return op.pipelines_instances(
            self._client,
            pipeline=pipeline,
            segment=segment,
            status=status,
            tag=tag,
            since=_epoch(since),
            until=_epoch(until),
            offset=offset,
            limit=limit,
        )

    def download(
        self, pipeline: str, segment: str, instance: str, path: str, *, key: str | None = None
    ) -> bytes:
        """The content of the instance's data file ``path``."""
        found = op.pipelines_file(
            self._client,
            pipeline=pipeline,
            segment=segment,
            instance=instance,
            path=path,
            key=key,
        )
        return found.content

    def delete_selected(
        self, pipeline: str, instances: builtins.list[str], *, dependents: bool = False
    ) -> builtins.list[Instance]:
        """Delete the data of ``instances`` (``"SEGMENT/INSTANCE"``, current keys), with
        every instance downstream of them when ``dependents``; what was deleted."""
        return op.pipelines_delete_selected(
            self._client,
            pipeline=pipeline,
            instances=builtins.list(instances),
            dependents=dependents,
        )

    def tag_selected(
        self, pipeline: str, instances: builtins.list[str], tag: str, *, remove: bool = False
    ) -> builtins.list[Instance]:
        """Put ``tag`` on each of ``instances`` (``"SEGMENT/INSTANCE"``), or take it off
        (``remove``); the instances afterwards."""
        return op.pipelines_tag_selected(
            self._client,
            pipeline=pipeline,
            instances=builtins.list(instances),
            tag=tag,
            remove=remove,
        )


def _epoch(value: float | datetime.date | None) -> float | None:
    if value is None or isinstance(value, int | float):
        return value
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.UTC)
    return value.timestamp()
