"""Data flowing downstream on each stage (``pipl.ci.downstream``): whether it is paused,
paused and resumed by the owner or root; and why a product is stale."""

from __future__ import annotations

from dataclasses import dataclass, field


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
