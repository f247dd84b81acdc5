"""What the API answers about a release's lifecycle (``client.releases.yank`` and
``derived``; carried out by ``pipl.api.service.lifecycle``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Yank:
    """Whether a release is yanked on a stage (PEP 592: installers skip it unless it is
    pinned with ``==``), and why."""

    stage: str
    index: str
    project: str
    version: str
    yanked: bool
    reason: str


@dataclass(frozen=True)
class Derived:
    """A release made, directly or not, from the one asked about: ``source`` is the
    release it was made from directly (``NAME==VERSION``), ``depth`` 1 for those made from
    the release itself; ``stages``: where it is now."""

    project: str
    version: str
    stages: list[str]
    source: str
    depth: int
    yanked: list[str]  # the stages it is yanked on
