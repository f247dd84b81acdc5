"""What a run would do before it does it: the dry run, and the segments a run selects.

``dry_run(pipeline)`` plans every segment as a run would (the same keys, the same instances
from the parents' outputs, the same reuse of what is done) but computes and writes
nothing. Per segment it says how many instances there are, how many are reused, how many
would run and why: which inputs of its key changed since a run last recorded the segment
(the tracking database keeps a digest of each), new inputs, instances that failed before,
``--force``.

Outputs of instances that have not run are not known yet. A child of a segment with
instances to run is planned from the outputs those instances had under the segment's
previous key (forced: their current ones); its counts are then marked estimated. When
some have no such outputs (a new pushed input, a segment never run), its counts are
unknown.

``select`` turns ``--until``, ``--only`` and ``--force`` into a ``Selection``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipl.errors import PipelineError, UsageError
from pipl.pipe.db import TrackingDb, read_db
from pipl.pipe.keys import changed_inputs
from pipl.pipe.multiplex import Element, Planned, plan
from pipl.pipe.store import finished_on_disk

if TYPE_CHECKING:
    from pipl.pipe.pipeline import Pipeline
    from pipl.pipe.prepared import Prepared


@dataclass(frozen=True)
class Selection:
    """Which segments a run runs (``runs``), which it only reads the outputs of because
    selected ones need them (``reads``), and which it recomputes though done (``forced``)."""

    runs: frozenset[str]
    reads: frozenset[str] = frozenset()
    forced: frozenset[str] = frozenset()
    only: tuple[str, ...] = ()  # the --only segments, whose parents must be done

    def planned(self, name: str) -> bool:
        return name in self.runs or name in self.reads


def _names(values: str | Iterable[str] | None) -> list[str]:
    """``"a,b"``, ``["a", "b,c"]`` or None as a list of segment names."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    return [n.strip() for item in items for n in item.split(",") if n.strip()]


def _closure(start: Iterable[str], edges: dict[str, list[str]]) -> set[str]:
    found: set[str] = set()
    stack = list(start)
    while stack:
        name = stack.pop()
        if name not in found:
            found.add(name)
            stack += edges.get(name, [])
    return found


def select(
    order: Sequence[str],
    parents: dict[str, list[str]],
    *,
    until: str | None = None,
    only: str | Iterable[str] | None = None,
    force: str | Iterable[str] | None = None,
) -> Selection:
    """The segments a run with ``--until``/``--only``/``--force`` runs, reads and forces.

    ``until``: that segment and what it needs; ``only``: those segments (their parents
    are read, and must be done); ``force``: those segments and their descendants are
    recomputed though done (only where they run)."""
    only_names, forced_names = _names(only), _names(force)
    for option, given in (
        ("--until", [until] if until else []),
        ("--only", only_names),
        ("--force", forced_names),
    ):
        unknown = [n for n in given if n not in parents]
        if unknown:
            raise UsageError(
                f"{option}: no segment {', '.join(map(repr, unknown))} in the pipeline "
                f"(its segments: {', '.join(order)})"
            )
    if until and only_names:
        raise UsageError("--until and --only do not go together: give one of them")
    children: dict[str, list[str]] = {n: [] for n in order}
    for child, ps in parents.items():
        for p in ps:
            children[p].append(child)
    everything = frozenset(order)
    forced = frozenset(_closure(forced_names, children))
    if until:
        return Selection(frozenset(_closure([until], parents)), forced=forced)
    if only_names:
        runs = frozenset(only_names)
        reads = frozenset(_closure([p for n in runs for p in parents[n]], parents) - runs)
        return Selection(runs, reads, forced, tuple(only_names))
    return Selection(everything, forced=forced)


@dataclass
class SegmentPlan:
    """What a run would do with one segment."""

    name: str
    key: str
    root: Path
    instances: int = 0
    reused: int = 0
    to_run: int = 0
    failed_before: int = 0  # of to_run: instances that failed under this key
    estimated: bool = False  # counts rest on outputs not computed yet (guessed)
    unknown: bool = False  # counts rest on outputs that cannot even be guessed
    previous_key: str | None = None  # the key a run last recorded (None: never)
    changed: list[str] = field(default_factory=list)  # inputs of the key that changed
    forced: bool = False
    skipped: bool = False  # not selected by --until/--only

    @property
    def why(self) -> str:
        """In words: why instances would run (or why the segment would not)."""
        if self.skipped:
            return "not selected"
        reasons = []
        if self.forced and self.to_run:
            reasons.append("forced")
        elif self.previous_key is None:
            reasons.append("never run")
        elif self.changed:
            reasons.append("key changed: " + ", ".join(self.changed))
        new = self.to_run - self.failed_before
        if not self.forced and self.previous_key == self.key and new:
            reasons.append(f"{new} new")
        if not self.forced and self.failed_before:
            reasons.append(f"{self.failed_before} failed before")
        return "; ".join(reasons)


@dataclass
class DryRun:
    segments: list[SegmentPlan]

    def segment(self, name: str) -> SegmentPlan:
        return next(s for s in self.segments if s.name == name)

    @property
    def to_run(self) -> int:
        return sum(s.to_run for s in self.segments if not s.skipped)


def elements(root: Path, planned: list[Planned], produced: dict[str, list[Any]]) -> list[Element]:
    """The outputs a segment gives its children: one element per output of each planned
    instance found in ``produced``."""
    data = str(root / "data")
    found: list[Element] = []
    for item in planned:
        outputs = produced.get(item.name)
        if outputs is not None:
            folder = f"{data}/{item.name}"
            found += [(f"{item.name}/{j}", folder, v) for j, v in enumerate(outputs)]
    return found


def _compared(seg: Prepared, db: TrackingDb | None) -> SegmentPlan:
    """A segment's plan with its key compared with the one a run last recorded: which of
    the key's inputs changed."""
    sp = SegmentPlan(seg.name, seg.key, seg.root)
    last = db.last_used(seg.name) if db is not None else None
    if last is not None:
        sp.previous_key, before = last
        if sp.previous_key != seg.key:
            sp.changed = (
                changed_inputs(before, seg.inputs)
                if before
                else ["unknown (recorded by a pipl that kept no key inputs)"]
            )
    return sp


def plan_segments(
    segments: list[Prepared],
    pushed: dict[str, list[Any]],
    db: TrackingDb | None,
    selection: Selection,
) -> tuple[list[SegmentPlan], dict[str, list[Element]]]:
    """Plan each segment, parents first, reading only; returns the plans and the outputs
    each planned segment would give (guessed where instances have not run)."""
    plans: list[SegmentPlan] = []
    outputs: dict[str, list[Element]] = {}
    guessed: dict[str, bool] = {}  # the outputs include guesses
    missing: dict[str, bool] = {}  # some outputs are not known at all
    for seg in segments:
        sp = _compared(seg, db)
        plans.append(sp)
        outputs[seg.name], guessed[seg.name], missing[seg.name] = [], False, False
        if not selection.planned(seg.name):
            sp.skipped = True
            continue
        sp.skipped = seg.name not in selection.runs
        sp.forced = seg.name in selection.forced and not sp.skipped
        sp.estimated = any(guessed[p] for p in seg.parents)
        sp.unknown = any(missing[p] for p in seg.parents)
        planned = plan(seg.name, seg.parents, outputs, seg.code.multiplex, pushed.get(seg.name))
        sp.instances = len(planned)
        recorded = db.done(seg.key) if db is not None else {}
        if len(recorded) < len(planned):
            recorded.update(
                (n, r["output"]) for n, r in finished_on_disk(seg.root).items() if n not in recorded
            )
        done = {} if sp.forced else recorded
        todo = [p.name for p in planned if p.name not in done]
        sp.to_run, sp.reused = len(todo), len(planned) - len(todo)
        guesses: dict[str, list[Any]] = {}
        if todo:
            if db is not None and sp.previous_key and sp.previous_key != seg.key:
                guesses = db.done(sp.previous_key)
            if sp.forced:
                guesses.update(recorded)
            if db is not None and not sp.forced:
                sp.failed_before = len(db.failed_names(seg.key).intersection(todo))
        outputs[seg.name] = elements(seg.root, planned, {**guesses, **done})
        guessed[seg.name] = sp.estimated or bool(todo)
        missing[seg.name] = sp.unknown or any(n not in guesses for n in todo)
    return plans, outputs


def check_parents_done(
    plans: list[SegmentPlan], selection: Selection, parents: dict[str, list[str]]
) -> None:
    """``--only``: every parent of an --only segment that this run does not run must be
    done (no instance to run); else one error naming them."""
    by_name = {p.name: p for p in plans}
    pending = [
        p
        for name in selection.only
        for p in parents[name]
        if p not in selection.runs
        and (by_name[p].to_run or by_name[p].estimated or by_name[p].unknown)
    ]
    if pending:
        shown = ", ".join(
            f"{p} ({by_name[p].to_run} instance(s) to run)" if by_name[p].to_run else p
            for p in dict.fromkeys(pending)
        )
        last = list(dict.fromkeys(pending))[-1]
        raise PipelineError(
            f"--only {','.join(selection.only)}: parent segment(s) not done: {shown}; run "
            f"them first (pipl pipe run --until {last}) or add them to --only"
        )


def dry_run(
    pipeline: Pipeline,
    *,
    until: str | None = None,
    only: str | Iterable[str] | None = None,
    force: str | Iterable[str] | None = None,
) -> DryRun:
    """What ``run`` with the same options would do, without computing or writing
    anything: instances per segment, reused, to run, and why."""
    from pipl.pipe.prepared import prepare

    segments = prepare(pipeline, make_envs=False)
    selection = select(
        [s.name for s in segments],
        {s.name: s.parents for s in segments},
        until=until,
        only=only,
        force=force,
    )
    db = read_db(pipeline.prefix)
    try:
        plans, _ = plan_segments(segments, pipeline.all_pushed(), db, selection)
    finally:
        if db is not None:
            db.close()
    return DryRun(plans)
