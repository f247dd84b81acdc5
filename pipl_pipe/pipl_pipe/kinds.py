"""Packl kinds: what each kind of packl is for and which entry-point groups it fills."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    summary: str
    groups: tuple[str, ...]  # entry-point groups a packl of this kind provides


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("lib", "plain Python code shared by other packls", ()),
        Kind(
            "task",
            "an application: pinned dependencies, commands, processing",
            ("pipl.commands", "pipl.process", "pipl_pipe.task"),
        ),
        Kind(
            "product",
            "references to assets by content hash, pinned to its sources",
            ("pipl_pipe.product",),
        ),
        Kind(
            "asset", "asset types: naming conventions for stored files", ("pipl_pipe.asset_type",)
        ),
        Kind("segment", "one processing step of a pipeline", ("pipl_pipe.segment",)),
        Kind("pipeline", "a DAG of segments", ("pipl.process", "pipl_pipe.pipeline")),
        Kind(
            "envset", "environment variables and PATH entries for workspaces", ("pipl_pipe.envset",)
        ),
    )
}


def get_kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown packl kind {name!r}: choose one of {', '.join(KINDS)}") from None
