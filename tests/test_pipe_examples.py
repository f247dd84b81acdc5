"""The examples, end to end from the CLI: Pipelet's knights, fft and cmb tutorials."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from pipl_pipe.segment.env import PARAMS_FILE

from tests.helpers import run as cli
from tests.pipe_helpers import copy_example

# instances each example's first run computes, by segment
EXPECTED = {
    "knights": {
        "knights": 2,
        "quality": 1,
        "melt": 4,
        "summary": 1,
        "melt_brave": 2,
        "by_knight": 2,
    },
    "fft": {"fftimg": 4, "mkgauss": 1, "convol": 4},
    "cmb": {"cmb": 6, "noise": 1, "clcmb": 6, "clplot": 1},
}


def _run(folder, *extra):
    result = cli(["pipe", "run", "-P", str(folder), "-j", "2", "--json", *extra])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)["data"]
    assert data["ok"], data
    return {s["segment"]: (s["ran"], s["reused"]) for s in data["segments"]}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_example_runs_then_reuses_everything(name, tmp_path):
    folder = copy_example(name, tmp_path)
    assert _run(folder) == {seg: (n, 0) for seg, n in EXPECTED[name].items()}
    assert _run(folder) == {seg: (0, n) for seg, n in EXPECTED[name].items()}


def _clplot(folder, nsim):
    """The clplot instance of ``nsim`` simulations: its table as columns, and what it
    exposed (the instance of an earlier, smaller class stays beside it)."""
    (instance,) = [
        found
        for found in folder.glob("pipe-data/cmb_*/clcmb_*/clplot_*/data/*/")
        if f"{nsim} simulations" in (found / "clplot.svg").read_text()
    ]
    rows = (instance / "clplot.txt").read_text().splitlines()
    names = rows[0].split()
    table = np.array([[float(v) for v in row.split()] for row in rows[1:]])
    with open(instance / PARAMS_FILE, "rb") as fh:
        params = pickle.load(fh)  # noqa: S301  # written by the pipeline under test
    assert sorted(params["exposed"]) == ["chi2", "noise_ratio", "nsim"]
    assert (instance / "clplot.svg").read_text().startswith("<svg")
    return dict(zip(names, table.T, strict=True)), params["values"]


def test_cmb_monte_carlo_gives_error_bars_around_the_model(tmp_path):
    """Orphan segments fed with pushed (nside, sim_id) tuples, one instance per
    simulation, gathered by ``group_by "0"``; pushing more simulations runs only them."""
    folder = copy_example("cmb", tmp_path)
    _run(folder)
    sims = sorted(p.name.rpartition("_")[0] for p in folder.glob("pipe-data/cmb_*/data/*"))
    assert sims == [f"64_{i}" for i in range(1, 7)]  # instance folders named by the tuples
    columns, exposed = _clplot(folder, 6)
    assert exposed["nsim"] == 6
    # the Monte Carlo mean of each estimator is within 3 error bars of the mean of the model
    for name in ("cross", "weighted"):
        error_of_mean = columns[f"{name}_err"] / np.sqrt(6)
        assert np.all(np.abs(columns[name] - columns["model"]) < 3 * error_of_mean), name
    assert 0.3 < exposed["chi2"] < 3
    assert 0.9 < exposed["noise_ratio"] < 1.1  # auto minus cross: the hit counts' noise

    pushed = cli(["pipe", "push", "cmb", "--json-values", "[64, 7]", "[64, 8]", "-P", str(folder)])
    assert pushed.exit_code == 0, pushed.output
    assert _run(folder) == {
        "cmb": (2, 6),
        "noise": (0, 1),
        "clcmb": (2, 6),
        "clplot": (1, 0),
    }
    assert _clplot(folder, 8)[1]["nsim"] == 8
