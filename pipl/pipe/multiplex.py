"""Which instances a segment runs: Pipelet's ``#multiplex`` directive.

``cross_prod`` (the default) runs one instance per element of the Cartesian product of
the parents' outputs; ``union`` one per output of any parent. ``cross_prod where "cond"
group_by "class"`` keeps the elements for which ``cond`` is true and runs one instance per
value of ``class``; both are Python expressions in which each parent's value is bound to
the parent's name (``group_by "0"`` gathers everything into one instance).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipl.errors import PipelineError
from pipl.pipe.pipeline import value_identity

_DIRECTIVE = re.compile(
    r"""^\s*(?P<mode>cross_prod|union)?\s*
    (?:where\s+(?P<wq>["'])(?P<where>.*?)(?P=wq))?\s*
    (?:group_by\s+(?P<gq>["'])(?P<group>.*?)(?P=gq))?\s*$""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Multiplex:
    mode: str = "cross_prod"
    where: str | None = None
    group_by: str | None = None

    def __str__(self) -> str:
        text = self.mode
        if self.where is not None:
            text += f' where "{self.where}"'
        if self.group_by is not None:
            text += f' group_by "{self.group_by}"'
        return text


def parse_multiplex(text: str, segment: str) -> Multiplex:
    match = _DIRECTIVE.match(text)
    if not match or not text.strip():
        raise PipelineError(
            f"segment {segment}: cannot read multiplex directive {text!r} (write "
            "'cross_prod', 'union' or 'cross_prod where \"COND\" group_by \"CLASS\"')"
        )
    mode = match["mode"] or "cross_prod"
    if mode == "union" and (match["where"] is not None or match["group"] is not None):
        raise PipelineError(
            f"segment {segment}: where/group_by apply to cross_prod, not union ({text!r})"
        )
    for kind, expr in (("where", match["where"]), ("group_by", match["group"])):
        if expr is not None:
            try:
                compile(expr, f"<{segment} {kind}>", "eval")
            except SyntaxError as exc:
                raise PipelineError(
                    f'segment {segment}: {kind} expression "{expr}" is not Python: {exc.msg}'
                ) from None
    return Multiplex(mode, match["where"], match["group"])


# one output of a parent: (identity, parent instance folder, value)
Element = tuple[str, str, Any]


class Planned:
    """One instance to run (or found done): its folder name; its input and the parent
    instance folders feeding it are built only when it has to run."""

    __slots__ = ("_members", "_names", "group", "name")

    def __init__(
        self, name: str, members: Any, names: Sequence[str] | None = None, group: Any = None
    ) -> None:
        self.name = name
        self._members = members  # a combination, a list of them (group_by), or an input
        self._names = names  # parent names, or None when _members is the ready input
        self.group = group  # under group_by: the class value (what get_input() gives)

    @property
    def input(self) -> Any:
        if self._names is None:
            return self._members[0]
        if isinstance(self._members, list):  # a group_by class: its elements
            return [{p: e[2] for p, e in zip(self._names, m, strict=True)} for m in self._members]
        return {p: e[2] for p, e in zip(self._names, self._members, strict=True)}

    @property
    def parents(self) -> dict[str, list[str]]:
        if self._names is None:
            return dict(self._members[1])
        if isinstance(self._members, list):
            return {
                p: list(dict.fromkeys(m[i][1] for m in self._members))
                for i, p in enumerate(self._names)
            }
        return {p: [e[1]] for p, e in zip(self._names, self._members, strict=True)}


def _slug(value: Any, depth: int = 0) -> str:
    if isinstance(value, dict):
        parts = [_slug(v, depth + 1) for v in value.values()]
    elif isinstance(value, list | tuple):
        parts = [_slug(v, depth + 1) for v in value[:4]]
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        parts = [str(value)]
    else:
        parts = []
    text = "-".join(p for p in parts if p)
    if depth == 0:
        text = re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_.")[:40]
    return text


def _name(value: Any, identity: str) -> str:
    digest = hashlib.blake2b(identity.encode(), digest_size=5).hexdigest()
    slug = _slug(value)
    return f"{slug}_{digest}" if slug else digest


def plan(
    segment: str,
    parents: Sequence[str],
    outputs: dict[str, list[Element]],
    multiplex: Multiplex,
    pushed: list[Any] | None,
) -> list[Planned]:
    """The instances of ``segment`` given its parents' outputs (or pushed inputs)."""
    if not parents:
        if pushed is None:
            return [Planned("single", ({}, {}))]
        key = f"{segment}_phantom"
        # a tuple and the list of the same items are one input (the first pushed is kept)
        by_name: dict[str, Planned] = {}
        for v in pushed:
            name = _name(v, value_identity(v))
            by_name.setdefault(name, Planned(name, ({key: v}, {})))
        return list(by_name.values())
    if multiplex.mode == "union":
        return [
            Planned(_name(value, f"{p}/{ident}"), ({p: value}, {p: [inst]}))
            for p in parents
            for ident, inst, value in outputs.get(p, [])
        ]
    # slugs computed once per parent output, joined per combination
    grouped = multiplex.group_by is not None
    sources = [[(e, "" if grouped else _slug(e[2])) for e in outputs.get(p, [])] for p in parents]
    combos: Any = itertools.product(*sources)
    if multiplex.where is not None:
        where = _compiled(segment, "where", multiplex.where)
        combos = [
            c
            for c in combos
            if _eval(segment, "where", multiplex.where, where, parents, [e for e, _ in c])
        ]
    if multiplex.group_by is None:
        result = []
        blake2b = hashlib.blake2b
        for combo in combos:
            digest = blake2b("|".join(e[0] for e, _ in combo).encode(), digest_size=5).hexdigest()
            slug = "-".join(s for _, s in combo if s)[:40].strip("_.-")
            members = tuple(e for e, _ in combo)
            result.append(Planned(f"{slug}_{digest}" if slug else digest, members, parents))
        return result
    combos = [tuple(e for e, _ in c) for c in combos]
    group = _compiled(segment, "group_by", multiplex.group_by)
    classes: dict[Any, list[tuple[Element, ...]]] = {}
    if not group.co_names and combos:  # a constant class ("0"): one instance, one eval
        constant = _eval(segment, "group_by", multiplex.group_by, group, parents, combos[0])
        classes = {constant: combos} if _hashable(constant) else {}
        combos = [] if classes else combos
    for combo in combos:
        cls = _eval(segment, "group_by", multiplex.group_by, group, parents, combo)
        try:
            classes.setdefault(cls, []).append(combo)
        except TypeError:
            raise PipelineError(
                f'segment {segment}: group_by "{multiplex.group_by}" gave {cls!r}, which is '
                "not hashable (return a str, number or tuple)"
            ) from None
    result = []
    for cls, group_members in classes.items():
        identity = repr(cls) + "|" + ";".join("|".join(e[0] for e in m) for m in group_members)
        result.append(Planned(_name(cls, identity), group_members, parents, cls))
    return result


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _compiled(segment: str, kind: str, expr: str) -> Any:
    return compile(expr, f"<{segment} {kind}>", "eval")


def _eval(segment: str, kind: str, expr: str, code: Any, parents: Sequence[str], combo: Any) -> Any:
    names = {p: e[2] for p, e in zip(parents, combo, strict=True)}
    try:
        return eval(code, {"__builtins__": __builtins__}, names)  # noqa: S307  # the pipeline's own expression
    except Exception as exc:
        raise PipelineError(
            f'segment {segment}: {kind} expression "{expr}" failed on {names!r}: '
            f"{type(exc).__name__}: {exc}"
        ) from None
