"""``client.pipelines``: the project's segment pipelines and their instances."""

from __future__ import annotations

import builtins
import datetime

from pipl.api.client.remote import Domain, remote
from pipl.api.pipelines import Instance, InstancePage
from pipl.api.service import pipelines


class PipelinesApi(Domain):
    """``client.pipelines``: the project's segment pipelines and their instances."""

    list = remote(pipelines.list_pipelines)
    graph = remote(pipelines.graph)
    status = remote(pipelines.status)
    run = remote(pipelines.run)
    cancel = remote(pipelines.cancel)
    instance = remote(pipelines.instance)
    tag = remote(pipelines.tag)
    untag = remote(pipelines.untag)
    delete = remote(pipelines.delete)
    dependents = remote(pipelines.dependents)
    code = remote(pipelines.code)
    keys = remote(pipelines.keys)
    compare = remote(pipelines.compare)

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
        return self._client.call(
            pipelines.instances,
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
        found = self._client.call(
            pipelines.data_file,
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
        return self._client.call(
            pipelines.delete_selected,
            pipeline=pipeline,
            instances=builtins.list(instances),
            dependents=dependents,
        )

    def tag_selected(
        self, pipeline: str, instances: builtins.list[str], tag: str, *, remove: bool = False
    ) -> builtins.list[Instance]:
        """Put ``tag`` on each of ``instances`` (``"SEGMENT/INSTANCE"``), or take it off
        (``remove``); the instances afterwards."""
        return self._client.call(
            pipelines.tag_selected,
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
