"""Data flowing downstream on each stage (``pipl.ci.downstream``): whether it is paused,
paused and resumed by the owner or root; and why a product is stale."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipl.api.models import build, build_list
from pipl.api.ops import declare

if TYPE_CHECKING:
    from pipl.api.client import Client

declare("flow.status", "GET", "/flow", summary="whether data flows downstream on each stage")
declare("flow.change", "POST", "/flow", "owner", "pausing or resuming the flow on a stage")


@dataclass(frozen=True)
class FlowStage:
    """The flow on one stage: ``paused`` since ``since`` (seconds since the epoch) by
    ``by``; ``skipped``: the releases (``NAME==VERSION``) that landed there while it was
    paused; ``queued``: the re-processing jobs a resume queued."""

    stage: str
    index: str
    processing: bool  # the stage's handlers include process: releases flow there
    paused: bool
    since: float | None = None
    by: str | None = None
    skipped: list[str] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Stale:
    """A product is stale: it was made from ``source pinned`` (``pinned`` "": its manifest
    does not pin that name), and ``source newer`` (on ``stage``) did not flow into a newer
    product."""

    source: str
    pinned: str
    newer: str
    stage: str

    def __str__(self) -> str:
        return f"{self.source} {self.newer} did not flow"


class FlowApi:
    """``client.flow``: pause and resume data flowing downstream on a stage."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def status(self) -> builtins.list[FlowStage]:
        """Every stage, in order, and whether its flow is paused."""
        return build_list(FlowStage, self._client._call("flow.status"))

    def pause(self, stage: str) -> FlowStage:
        """Pause the flow on ``stage`` (the owner or root): releases landing there
        re-process nothing until it is resumed."""
        return build(FlowStage, self._client._call("flow.change", stage=stage, paused=True))

    def resume(self, stage: str) -> FlowStage:
        """Resume the flow on ``stage`` (the owner or root), queueing the re-processings
        for the latest releases that landed there while it was paused."""
        return build(FlowStage, self._client._call("flow.change", stage=stage, paused=False))
