"""``client.flow``: pause and resume data flowing downstream on a stage."""

from __future__ import annotations

from pipl.api.client import operations as op
from pipl.api.client.remote import Domain, remote
from pipl.api.flow import FlowStage


class FlowApi(Domain):
    """``client.flow``: pause and resume data flowing downstream on a stage."""

    status = remote(op.flow_status)

    def pause(self, stage: str) -> FlowStage:
        """Pause the flow on ``stage`` (the owner or root): releases landing there
        re-process nothing until it is resumed."""
        return op.flow_change(self._client, stage=stage, paused=True)

    def resume(self, stage: str) -> FlowStage:
        """Resume the flow on ``stage`` (the owner or root), queueing the re-processings
        for the latest releases that landed there while it was paused."""
        return op.flow_change(self._client, stage=stage, paused=False)
