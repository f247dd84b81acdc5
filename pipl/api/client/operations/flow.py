"""The flow operations of pipl's API as typed functions of a client, one each.

Written by ``make api`` (``pipl.api.codegen``) from the functions of ``pipl.api.service``
that carry the operations out: change those, not this file.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from pipl.api.flow import FlowStage
from pipl.api.models import value_of
from pipl.api.ops import Route

if TYPE_CHECKING:
    from pipl.api.client.remote import Sender


FLOW_STATUS = Route("flow.status", "GET", "/api/v1/flow")


def flow_status(client: Sender) -> builtins.list[FlowStage]:
    """Every stage, in order, and whether its flow is paused."""
    answer: builtins.list[FlowStage] = value_of(
        builtins.list[FlowStage], client.send(FLOW_STATUS, {})
    )
    return answer


FLOW_CHANGE = Route("flow.change", "POST", "/api/v1/flow")


def flow_change(client: Sender, stage: str, paused: bool = True) -> FlowStage:
    """Pause the flow on ``stage``, or resume it and queue what it skipped meanwhile."""
    answer: FlowStage = value_of(
        FlowStage, client.send(FLOW_CHANGE, {"stage": stage, "paused": paused})
    )
    return answer
