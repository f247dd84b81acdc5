"""The segment graph: segments, edges and the lines that declared them; order and cycles."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipl.errors import PipelineError


@dataclass
class Dag:
    """Segments in order of first appearance, edges (parent, child), the line of each."""

    segments: list[str] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # segment -> first line
    edge_lines: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, name: str, line: int) -> None:
        if name not in self.lines:
            self.lines[name] = line
            self.segments.append(name)

    def parents(self, name: str) -> list[str]:
        return [p for p, c in self.edges if c == name]

    def children(self, name: str) -> list[str]:
        return [c for p, c in self.edges if p == name]


def check_acyclic(dag: Dag) -> None:
    """Report the first edge (in text order) that closes a cycle."""
    children: dict[str, list[str]] = {s: [] for s in dag.segments}
    for edge in sorted(dag.edges, key=lambda e: dag.edge_lines[e]):
        parent, child = edge
        if _reaches(children, child, parent):
            path = " -> ".join([*_path(children, child, parent), child])
            raise PipelineError(
                f"pipeline line {dag.edge_lines[edge]}: {parent} -> {child} makes a cycle ({path})"
            )
        children[parent].append(child)


def _reaches(children: dict[str, list[str]], start: str, goal: str) -> bool:
    return bool(_path(children, start, goal))


def _path(children: dict[str, list[str]], start: str, goal: str) -> list[str]:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen = set()
    while stack:
        node, path = stack.pop()
        if node == goal:
            return path
        if node in seen:
            continue
        seen.add(node)
        stack += [(c, [*path, c]) for c in children[node]]
    return []


def topological(dag: Dag) -> list[str]:
    """Segments parents first; ties kept in order of appearance."""
    order: list[str] = []
    placed: set[str] = set()
    remaining = list(dag.segments)
    while remaining:
        for name in remaining:
            if all(p in placed for p in dag.parents(name)):
                order.append(name)
                placed.add(name)
                remaining.remove(name)
                break
    return order


def to_dot(dag: Dag, name: str = "pipeline", attrs: dict[str, dict[str, str]] | None = None) -> str:
    """The DAG as dot text; ``attrs`` gives segments attributes (label, URL, color...)."""
    lines = [f"digraph {name} {{"]
    if attrs:
        lines.append('  node [shape=box, style="rounded,filled", fillcolor=white, fontsize=11];')
        for seg in dag.segments:
            given = ", ".join(f"{k}={_quoted(v)}" for k, v in sorted(attrs.get(seg, {}).items()))
            lines.append(f"  {seg} [{given}];" if given else f"  {seg};")
    else:
        lines += [f"  {s};" for s in dag.segments if not dag.parents(s) and not dag.children(s)]
    lines += [f"  {p} -> {c};" for p, c in dag.edges]
    return "\n".join([*lines, "}"]) + "\n"


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
