"""The slice's model is the Bayesian searcher's GP, read back in objective units."""

from __future__ import annotations

import numpy as np

from tuitune.core.history import History, Objective
from tuitune.insight.model import RunModel, model_history
from tuitune.core.space import CategoricalParam, FloatParam, Space

from .synthetic import view

SPACE = Space((FloatParam("x", low=0.0, high=1.0), FloatParam("y", low=0.0, high=1.0),
               CategoricalParam("c", choices=("a", "b"))))


def _history(mode: str = "min", n: int = 25) -> History:
    rng = np.random.default_rng(0)
    trials = []
    for i in range(n):
        p = SPACE.sample(rng)
        loss = (p["x"] - 0.3) ** 2 * 10 + (0.5 if p["c"] == "b" else 0.0)
        trials.append(view(i + 1, p, loss if mode == "min" else -loss))
    return History(Objective("loss", mode), tuple(trials))


def test_slice_mean_follows_the_function_and_the_band_holds_it():
    model = RunModel(SPACE, _history())
    s = model.slice("x")
    assert s is not None and len(s.values) == len(s.mean)
    inc = s.incumbent
    truth = (np.array(s.values) - 0.3) ** 2 * 10 + (0.5 if inc["c"] == "b" else 0.0)
    assert np.all(s.low <= s.mean) and np.all(s.mean <= s.high)
    inside = (truth >= s.low - 0.05) & (truth <= s.high + 0.05)
    assert inside.mean() > 0.9
    assert abs(s.values[int(np.argmin(s.mean))] - 0.3) < 0.1
    assert s.ei.max() == 1.0 and s.ei.min() >= 0.0


def test_slice_in_a_maximised_run_is_in_the_objective_direction():
    s = RunModel(SPACE, _history("max")).slice("x")
    assert abs(s.values[int(np.argmax(s.mean))] - 0.3) < 0.1


def test_categorical_slice_has_one_point_per_choice():
    s = RunModel(SPACE, _history()).slice("c")
    assert s.values == ("a", "b") and s.mean[0] < s.mean[1]


def test_no_model_before_two_results_and_a_cap_on_big_runs():
    assert RunModel(SPACE, _history(n=1)).slice("x") is None
    big = _history(n=400)
    kept = model_history(big, limit=120)
    assert len(kept.trials) == 120
    best = sorted(big.trials, key=lambda t: t.value)[:40]
    assert {t.id for t in best} <= {t.id for t in kept.trials}
