"""The pipeline engine: Pipelet-style segment DAGs with cached, multiplexed outputs.

``Pipeline(dot, code_dir, prefix)`` (or ``load_pipeline(folder)`` for a pipeline packl),
then ``run(pipeline)`` (``dry_run(pipeline)`` says what it would do); the segment
environment itself lives in ``pipl_pipe.segment``.
"""

from __future__ import annotations

from pipl.pipe.execute import SegmentReport
from pipl.pipe.pipeline import (
    Pipeline,
    installed_pipeline,
    load_module_pipeline,
    load_pipeline,
    store_push,
)
from pipl.pipe.plan import DryRun, SegmentPlan, dry_run
from pipl.pipe.prepared import prepare
from pipl.pipe.run import RunReport, run

__all__ = [
    "DryRun",
    "Pipeline",
    "RunReport",
    "SegmentPlan",
    "SegmentReport",
    "dry_run",
    "installed_pipeline",
    "load_module_pipeline",
    "load_pipeline",
    "prepare",
    "run",
    "store_push",
]
