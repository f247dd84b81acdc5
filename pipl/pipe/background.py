"""Running a pipeline again in the background, as its last run did.

``start_run(prefix)`` records a queued run in the tracking database and starts
``python -m pipl.pipe.background PREFIX RUN_ID`` in a session of its own, then returns
the run's id at once: the caller (a web request) does not wait. The child runs the
pipeline of the prefix's recipe with ``pipl.pipe.run`` (only what is not computed yet)
and its output goes to ``PREFIX/runs/RUN_ID.log``; the run's row in the database says
how far it is and, if it could not run, why.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from pipl_pipe.fsutil import LockTimeout

from pipl.errors import PipelineBusy, PiplError
from pipl.fsutil import locked
from pipl.pipe.db import TrackingDb
from pipl.pipe.recipe import recorded_pipeline
from pipl.runner import Runner

LOGS = "runs"


def run_log(prefix: Path, run_id: int) -> Path:
    return prefix / LOGS / f"{run_id}.log"


def start_run(db: TrackingDb, prefix: Path, *, runner: Runner | None = None) -> int:
    """Start the pipeline of ``prefix`` again in a background process; its run id."""
    recorded_pipeline(prefix)  # NotFound when no run left a recipe
    try:
        with locked(prefix / "run", timeout=0.1):
            pass
    except LockTimeout:
        raise PipelineBusy(
            f"a run is using pipeline data {prefix.name}: wait for it to finish"
        ) from None
    run_id = db.start_run("local", status="queued")
    log = run_log(prefix, run_id)
    log.parent.mkdir(exist_ok=True)
    with log.open("ab") as out:
        child = (runner or Runner()).spawn(
            [sys.executable, "-m", "pipl.pipe.background", str(prefix), str(run_id)],
            stdout=out,
            detach=True,
            cwd=prefix,
        )
    # collect its exit status when it ends (no zombie left in a long-lived server)
    threading.Thread(target=child.wait, name=f"pipe-run-{run_id}", daemon=True).start()
    return run_id


def main(argv: list[str]) -> int:
    from pipl.pipe.db import open_db
    from pipl.pipe.run import run

    prefix, run_id = Path(argv[0]), int(argv[1])
    try:
        report = run(recorded_pipeline(prefix), run_id=run_id)
    except PiplError as exc:
        with open_db(prefix) as db:
            db.finish_run(run_id, "error", 0, 0, 0, str(exc))
        print(f"Error: {exc}", flush=True)
        return 1
    for seg in report.segments:
        print(f"{seg.name} {seg.key}: {seg.ran} ran, {seg.reused} reused, {seg.failed} failed")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
