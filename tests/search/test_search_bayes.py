"""Rules of the Bayesian searcher: initial design, hand trials, pending, transforms."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tuitune.core.decisions import Exhausted, Suggest
from tuitune.search import BayesSearcher, make_searcher
from tuitune.search.bayes import mixed_dims
from tuitune.search.transforms import log_jacobian, standardize, transform_losses
from tuitune.core.space import CategoricalParam, FloatParam, IntParam, Pow2Param, Space

FAST = {"candidates": 256, "restarts": 3}
SPACE2 = Space((FloatParam("x", low=0.0, high=1.0), FloatParam("y", low=0.0, high=1.0)))


def bowl(p: dict[str, Any]) -> float:
    return (p["x"] - 0.3) ** 2 + (p["y"] - 0.7) ** 2


def test_initial_design_is_sobol_then_model() -> None:
    s = BayesSearcher(SPACE2, n_initial=3, **FAST)
    reasons = []
    for _ in range(5):
        d = s.ask()
        assert isinstance(d, Suggest)
        reasons.append(d.reason)
        s.tell(d.params, bowl(d.params))
    assert all(r.startswith("initial design") for r in reasons[:3])
    assert all(r.startswith("GP") for r in reasons[3:])


def test_hand_trials_count_toward_the_initial_design() -> None:
    s = BayesSearcher(SPACE2, n_initial=5, **FAST)
    rng = np.random.default_rng(0)
    for _ in range(3):
        p = SPACE2.sample(rng)
        s.tell(p, bowl(p))
    first, second = s.ask(), s.ask()
    assert isinstance(first, Suggest) and first.reason.startswith("initial design")
    assert isinstance(second, Suggest) and second.reason.startswith("initial design")
    s.tell(first.params, bowl(first.params))
    s.tell(second.params, bowl(second.params))
    third = s.ask()
    assert isinstance(third, Suggest) and third.reason.startswith("GP")


def test_model_finds_the_bowl() -> None:
    s = BayesSearcher(SPACE2, n_initial=5, seed=1, **FAST)
    for _ in range(13):
        d = s.ask()
        assert isinstance(d, Suggest)
        s.tell(d.params, bowl(d.params))
    best = min(o.loss for o in s.observations)
    assert best < 3e-3


@pytest.mark.parametrize("strategy", ["believer", "liar"])
def test_pending_trials_spread_concurrent_suggestions(strategy: str) -> None:
    s = BayesSearcher(SPACE2, n_initial=6, seed=2, pending=strategy, **FAST)
    for _ in range(8):
        d = s.ask()
        s.tell(d.params, bowl(d.params))  # type: ignore[union-attr]
    batch = [s.ask() for _ in range(4)]
    xs = np.array([[d.params["x"], d.params["y"]] for d in batch])  # type: ignore[union-attr]
    gaps = [np.linalg.norm(xs[i] - xs[j]) for i in range(4) for j in range(i)]
    assert min(gaps) > 1e-3
    assert len(s.pending) == 4


def test_integers_and_categoricals_are_never_resuggested() -> None:
    space = Space(
        (
            IntParam("a", low=0, high=2),
            Pow2Param("b", low=1, high=2),
            CategoricalParam("c", choices=("p", "q")),
        )
    )
    s = BayesSearcher(space, n_initial=4, **FAST)
    keys = []
    while isinstance(d := s.ask(), Suggest):
        keys.append(space.key(d.params))
        s.tell(d.params, (d.params["a"] - 2) ** 2 + d.params["b"] + (d.params["c"] == "p"))
    assert len(keys) == len(set(keys)) == 12
    assert isinstance(s.ask(), Exhausted)


def test_mixed_dims_enumerate_small_discrete_dimensions() -> None:
    space = Space(
        (
            FloatParam("x"),
            IntParam("n", low=1, high=3),
            IntParam("big", low=0, high=999),
            CategoricalParam("c", choices=("a", "b")),
        )
    )
    dims = mixed_dims(space)
    assert dims.is_cat.tolist() == [False, False, False, True]
    assert dims.continuous.tolist() == [True, False, True, False]
    np.testing.assert_allclose(dims.grids[1], [1 / 6, 0.5, 5 / 6])
    snapped = dims.snap(np.array([[0.37, 0.4, 0.123456, 0.9]]))
    assert snapped[0].tolist() == pytest.approx([0.37, 0.5, 0.123456, 0.75])


def test_failed_trials_are_imputed_as_the_worst_result() -> None:
    s = BayesSearcher(SPACE2, n_initial=0, transform="none", **FAST)
    s.tell({"x": 0.1, "y": 0.1}, 1.0)
    s.tell({"x": 0.5, "y": 0.5}, 2.0)
    s.tell({"x": 0.9, "y": 0.9}, math.nan)
    x, y = s._training_data()
    gp, y_std = s.fit_model(x, y)
    assert y_std[2] == pytest.approx(y_std[1])
    d = s.ask()
    assert isinstance(d, Suggest)


def test_failures_and_huge_losses_are_ranked_not_scaled() -> None:
    # Issue 17.5: a diverged trial (NaN) or a loss of 1e4 next to losses of 0.3 must
    # not squash the good ones together. "auto" ranks once some trial failed: the
    # failure is the worst value, one rank step past the worst finite loss, and
    # the good losses keep their spread.
    s = BayesSearcher(SPACE2, n_initial=0, **FAST)
    losses = [0.30, 0.31, 0.35, 0.50, 1e4, math.nan]
    for i, v in enumerate(losses):
        s.tell({"x": 0.1 + 0.15 * i, "y": 0.5}, v)
    x, y = s._training_data()
    _, y_std = s.fit_model(x, y)
    assert s._objective.how == "rank"
    assert list(np.argsort(y_std)) == [0, 1, 2, 3, 4, 5]
    steps = np.diff(y_std)
    assert steps.max() / steps.min() < 3.0  # ranks: no cliff at the failures
    # Imputing failures as the worst finite loss puts every good loss at one value.
    t = BayesSearcher(SPACE2, n_initial=0, transform="none", **FAST)
    for i, v in enumerate(losses):
        t.tell({"x": 0.1 + 0.15 * i, "y": 0.5}, v)
    _, raw = t.fit_model(*t._training_data())
    assert raw[3] - raw[0] < 1e-3
    # A value between two fitted losses maps between their scores, and back.
    mid = s._warp(np.array([0.4]))[0]
    assert y_std[2] < mid < y_std[3]
    assert s._unwarp(np.array([mid]))[0] == pytest.approx(0.4)
    assert isinstance(s.ask(), Suggest)


def test_incumbent_is_chosen_by_posterior_mean() -> None:
    # A smooth bowl observed with noise, plus one lucky value far from the optimum:
    # the best *observed* value is the outlier, the best *predicted* is near 0.3.
    space = Space((FloatParam("x", low=0.0, high=1.0),))
    s = BayesSearcher(space, n_initial=0, **FAST)
    rng = np.random.default_rng(0)
    for x in np.linspace(0.0, 1.0, 21):
        s.tell({"x": float(x)}, (x - 0.3) ** 2 + rng.normal(0, 0.02))
    s.tell({"x": 0.9}, -0.05)  # far from the optimum and next to 0.9 observed at ~0.36
    assert s._best_observation().params["x"] == pytest.approx(0.9)  # type: ignore[union-attr]
    assert abs(s.incumbent()["x"] - 0.3) <= 0.1  # type: ignore[index]


def test_auto_transform_follows_the_likelihood() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((30, 1))
    s = BayesSearcher(Space((FloatParam("x"),)), n_initial=0)
    heavy = np.exp(12 * x[:, 0]) * 1e-3  # spans five orders of magnitude
    assert s._transform_for(x, heavy) == "log"
    s2 = BayesSearcher(Space((FloatParam("x"),)), n_initial=0)
    smooth = 2.0 + np.sin(3 * x[:, 0])
    assert s2._transform_for(x, smooth) == "none"


def test_transforms() -> None:
    y = np.array([1e-3, 1e-1, 10.0])
    np.testing.assert_allclose(transform_losses(y, "log"), np.log(y))
    assert log_jacobian(y, "log") == pytest.approx(-np.log(y).sum())
    neg = np.array([-2.0, -1.0, 0.0])
    t = transform_losses(neg, "log")
    assert np.all(np.isfinite(t)) and np.all(np.diff(t) > 0)
    assert transform_losses(neg, "none") is not None
    assert np.all(standardize(np.ones(3)) == 0.0)


def test_no_searchable_dimension() -> None:
    from tuitune.core.space import FixedParam

    s = make_searcher("bayes", Space((FixedParam("e", value=1),)))
    d = s.ask()
    assert isinstance(d, Suggest) and d.params == {"e": 1}
    s.tell(d.params, 1.0)
    assert isinstance(s.ask(), Exhausted)


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="pending"):
        make_searcher("bayes", SPACE2, options={"pending": "fantasy"})
    with pytest.raises(ValueError, match="deterministic"):
        make_searcher("bayes", SPACE2, options={"deterministic": "yes"})
    with pytest.raises(ValueError, match="n_initial"):
        make_searcher("bayes", SPACE2, options={"n_initial": -1})
