"""How a searcher rebuilt on a narrowed space uses the trials from before the edit."""

from __future__ import annotations

import numpy as np

from tuitune.search.bayes import BayesSearcher
from tuitune.core.space import FloatParam, IntParam, Space

NARROW = Space((FloatParam("lr", low=0.01, high=0.05, log=True), IntParam("units", low=10, high=20)))


def test_bayes_keeps_earlier_trials_outside_the_new_space_where_they_are():
    searcher = BayesSearcher(NARROW, seed=0, n_initial=2)
    rng = np.random.default_rng(0)
    for _ in range(5):
        p = NARROW.sample(rng)
        searcher.tell(p, float(np.log(p["lr"])) ** 2)
    searcher.tell({"lr": 0.5, "units": 15}, 99.0)  # from before the narrowing
    x = searcher.surrogate().gp.x
    lr_axis = x[:, 0]
    expected = NARROW["lr"].to_unit(0.5)
    assert expected > 1.5
    # Placed past the edge on the same log scale, not clipped onto lr = 0.05.
    assert np.isclose(lr_axis.max(), expected)
    for _ in range(5):
        s = searcher.ask()
        assert 0.01 <= s.params["lr"] <= 0.05 and 10 <= s.params["units"] <= 20
