"""Pipelet's subset of the dot language: ``a -> b -> d; c -> d;``.

Statements end with ``;`` or a line end; each is a chain of segment names joined by
``->`` (a lone name declares a segment without edges). ``#`` and ``//`` start comments;
an enclosing ``digraph NAME { ... }`` is accepted. Errors name the line.
"""

from __future__ import annotations

import itertools
import re

from pipl.errors import PipelineError
from pipl.pipe.graph import Dag, check_acyclic

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_WRAPPER = re.compile(r"^\s*(strict\s+)?digraph\s*[A-Za-z0-9_]*\s*\{|\}\s*$")


def parse(text: str) -> Dag:
    """Parse the pipeline text; a syntax error or a cycle raises ``PipelineError``."""
    dag = Dag()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.split(r"#|//", raw, maxsplit=1)[0]
        line = _WRAPPER.sub("", line)
        for statement in line.split(";"):
            statement = statement.strip()
            if not statement:
                continue
            names = [part.strip() for part in statement.split("->")]
            for name in names:
                if not NAME.match(name):
                    shown = name or "(nothing)"
                    raise PipelineError(
                        f"pipeline line {number}: {shown!r} is not a segment name in "
                        f"{statement!r} (write chains like 'a -> b -> c;')"
                    )
                dag.add(name, number)
            for parent, child in itertools.pairwise(names):
                if parent == child:
                    raise PipelineError(f"pipeline line {number}: {parent} -> {child} is a cycle")
                if (parent, child) not in dag.edge_lines:
                    dag.edges.append((parent, child))
                    dag.edge_lines[(parent, child)] = number
    if not dag.segments:
        raise PipelineError("the pipeline declares no segment (write edges like 'a -> b;')")
    check_acyclic(dag)
    return dag
