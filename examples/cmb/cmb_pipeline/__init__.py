"""Pipelet's cmb example, the Monte Carlo pipeline, on flat square maps with numpy.

``cmb`` makes one sky map per pushed ``(nside, sim_id)`` tuple from a model power
spectrum; ``noise`` makes the hit-count map of the pushed resolution ``nside`` (both are
orphan segments fed by ``PUSH``); ``clcmb`` adds two noise realizations to each sky map
and estimates its spectrum twice: the plain cross spectrum of the two noisy maps, and the
inverse noise weighted one (maps weighted by hits, corrected for the weight's coupling);
``clplot`` (``group_by "0"``) gathers every simulation into error bars beside the model.

Push more simulations to grow the Monte Carlo; only the new ones and ``clplot`` run::

    pipl pipe push --json-values cmb '[64, 7]' '[64, 8]'
    pipl pipe run
"""

PIPELINE = """
cmb -> clcmb -> clplot;
noise -> clcmb;
"""

SEGMENTS = {
    "noise": {"params": {"sigma0": 0.5}},
    "clcmb": {"params": {"bin_width": 4}},
}

PUSH = {
    "cmb": [(64, 1), (64, 2), (64, 3), (64, 4), (64, 5), (64, 6)],
    "noise": [64],
}
