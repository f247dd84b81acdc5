"""``[gates.STAGE]``, ``[reviews]`` and ``[qa]``: what a release needs before it enters a
stage, who may review it, and the owner's QA checks. A misspelt key here would quietly
weaken a check, so each of these tables refuses unknown keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipl import names
from pipl.project.config.keys import check_known
from pipl.project.config.values import (
    SettingError,
    checked_names,
    flag,
    integer,
    table_of,
    text_list,
)


@dataclass(frozen=True)
class Gate:
    """``[gates.STAGE]``: what a release needs before it enters STAGE (``pipl.ci.gates``)."""

    qa: bool = False
    wheel: bool = False
    processing: bool = False
    approvals: int = 0
    reviewers: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = []
        if self.qa:
            parts.append("QA passed")
        if self.wheel:
            parts.append("a wheel")
        if self.processing:
            parts.append("processing passed")
        if self.approvals:
            who = f" by {', '.join(self.reviewers)}" if self.reviewers else ""
            parts.append(f"{self.approvals} approval(s){who}")
        return ", ".join(parts) or "nothing"


DEFAULT_GATES: dict[str, Gate] = {
    "qa": Gate(qa=True, wheel=True),
    "prod": Gate(qa=True, processing=True, approvals=1),
}


def parse_gates(data: Any, stages: Sequence[str]) -> dict[str, Gate]:
    """The gates of ``stages``: the defaults, replaced stage by stage by ``data``."""
    if data is not None and not isinstance(data, dict):
        raise SettingError("gates", "", "must be tables, one per stage")
    gates = {stage: gate for stage, gate in DEFAULT_GATES.items() if stage in stages}
    for stage, value in (data or {}).items():
        table = f"gates.{stage}"
        if stage not in stages:
            raise SettingError(table, "", f"names no stage (stages: {', '.join(stages)})")
        value = table_of(value, table)
        check_known(table, value)
        reviewers = text_list(value, table, "reviewers", "user names")
        gates[stage] = Gate(
            qa=flag(value, table, "qa", False),
            wheel=flag(value, table, "wheel", False),
            processing=flag(value, table, "processing", False),
            approvals=integer(value, table, "approvals", 0, 0, -1),
            reviewers=checked_names(reviewers, table, "reviewers", names.check_user),
        )
    return gates


# -- [reviews], [qa] ----------------------------------------------------------------------
@dataclass(frozen=True)
class ReviewConfig:
    """``[reviews]``: who may review besides a release's maintainers."""

    reviewers: tuple[str, ...] = ()
    self_approval: bool = False


def parse_reviews(data: Any) -> ReviewConfig:
    data = table_of(data, "reviews")
    reviewers = text_list(data, "reviews", "reviewers", "user names")
    return ReviewConfig(
        reviewers=checked_names(reviewers, "reviews", "reviewers", names.check_user),
        self_approval=flag(data, "reviews", "self_approval", False),
    )


@dataclass(frozen=True)
class QaSettings:
    """``[qa]``: the owner's QA checks run for every release (``pipl.ci.builtin.qa_policy``)."""

    checks: tuple[str, ...] = ()
    contracts: bool = True


def parse_qa(data: Any) -> QaSettings:
    data = table_of(data, "qa")
    check_known("qa", data)
    listed = text_list(data, "qa", "checks", "packl names on the base index")
    found = checked_names(listed, "qa", "checks", names.check_dist)
    return QaSettings(
        checks=tuple(dict.fromkeys(names.normalize_dist(c) for c in found)),
        contracts=flag(data, "qa", "contracts", True),
    )
