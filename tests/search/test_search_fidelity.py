"""The common-fidelity policy: which observations, at which step, the GP is fit on."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuitune.core.decisions import Suggest
from tuitune.core.history import History, Objective, TrialView
from tuitune.search import make_searcher
from tuitune.search.bayes import BayesSearcher
from tuitune.search.fidelity import common_step, fidelity_view, impute
from tuitune.core.space import FloatParam, Space

SPACE = Space((FloatParam("x", low=0.0, high=1.0),))


def trial(tid: int, state: str, curve: list[tuple[int, float]]) -> TrialView:
    finite = [v for _, v in curve if math.isfinite(v)]
    return TrialView(tid, state, {"x": tid / 10}, curve=tuple(curve),
                     value=min(finite) if finite else None)


def curve(values: list[float], steps: tuple[int, ...] = (1, 3, 9, 27)) -> list[tuple[int, float]]:
    return list(zip(steps, values, strict=False))


#: Three trials completed (27 steps), two were pruned at step 9, three at step 3,
#: one at step 1; one diverged; one is still running.
HISTORY = History(Objective("loss"), (
    trial(1, "completed", curve([0.9, 0.7, 0.5, 0.4])),
    trial(2, "completed", curve([0.8, 0.6, 0.55, 0.45])),
    trial(3, "completed", curve([0.7, 0.65, 0.6, 0.58])),
    trial(4, "pruned", curve([0.6, 0.5, 0.52])),
    trial(5, "pruned", curve([0.5, 0.45, 0.7])),
    trial(6, "pruned", curve([1.0, 0.9])),
    trial(7, "pruned", curve([1.1, 0.95])),
    trial(8, "killed", curve([1.2, 1.0])),
    trial(9, "pruned", curve([1.3])),
    trial(10, "diverged", curve([1.0, math.nan])),
    trial(11, "running", curve([0.4, 0.3])),
))


def test_common_step_is_the_highest_step_enough_trials_reached() -> None:
    reaches = [math.inf, math.inf, math.inf, 9, 9, 3, 3, 3, 1]
    assert common_step(reaches, 3) == math.inf  # three completed: full fidelity
    assert common_step(reaches, 4) == 9  # 3 completed + 2 at 9 reached 9
    assert common_step(reaches, 5) == 9
    assert common_step(reaches, 6) == 3
    assert common_step(reaches, 8) == 3
    assert common_step(reaches, 9) == 1
    assert common_step(reaches, 20) == 1  # never more than everyone: the lowest step
    assert common_step([], 3) == math.inf


def test_view_at_full_fidelity_imputes_every_trial_stopped_early() -> None:
    view = fidelity_view(HISTORY, 3)
    assert view.step is None
    assert [(p["x"], v) for p, v in view.reached] == [(0.1, 0.4), (0.2, 0.45), (0.3, 0.58)]
    assert [(s.params["x"], s.step, s.value) for s in view.stopped] == [
        (0.4, 9, 0.5), (0.5, 9, 0.45), (0.6, 3, 0.9), (0.7, 3, 0.95), (0.8, 3, 1.0),
        (0.9, 1, 1.3),
    ]
    assert [p["x"] for p in view.failed] == [1.0]  # diverged: the worst, at any fidelity
    # (best up to the stop step, best at the end) of the trials that completed.
    assert view.references[9] == [(0.5, 0.4), (0.55, 0.45), (0.6, 0.58)]
    assert view.references[3] == [(0.7, 0.4), (0.6, 0.45), (0.65, 0.58)]
    assert view.references[1] == [(0.9, 0.4), (0.8, 0.45), (0.7, 0.58)]


def test_view_at_a_lower_step_takes_best_values_up_to_it() -> None:
    view = fidelity_view(HISTORY, 5)
    assert view.step == 9
    assert [(p["x"], v) for p, v in view.reached] == [
        (0.1, 0.5), (0.2, 0.55), (0.3, 0.6), (0.4, 0.5), (0.5, 0.45),
    ]
    assert [s.step for s in view.stopped] == [3, 3, 3, 1]
    assert view.references[1] == [(0.9, 0.5), (0.8, 0.55), (0.7, 0.6), (0.6, 0.5), (0.5, 0.45)]


def test_without_early_stopping_everything_is_full_fidelity() -> None:
    history = History(Objective("loss"), (
        trial(1, "completed", curve([0.9, 0.7])),
        trial(2, "completed", curve([0.8, 0.75])),
    ))
    view = fidelity_view(history, 3)
    assert view.step is None and not view.stopped
    assert [v for _, v in view.reached] == [0.7, 0.75]


def test_impute_is_least_squares_with_its_prediction_variance() -> None:
    pairs = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.5], [3.0, 4.0]])
    mean, var = impute(pairs, np.array([1.5, 10.0]))
    slope, intercept = np.polyfit(pairs[:, 0], pairs[:, 1], 1)
    s2 = np.sum((pairs[:, 1] - (intercept + slope * pairs[:, 0])) ** 2) / 2
    assert mean[0] == pytest.approx(intercept + slope * 1.5)
    assert mean[1] == pytest.approx(intercept + slope * 3.0)  # clipped to the data
    assert var[0] == pytest.approx(s2 * (1 + 1 / 4 + 0.0 / 5.0))  # 1.5 is the mean
    assert var[1] == pytest.approx(s2 * (1 + 1 / 4 + 1.5**2 / 5.0))  # at the clipped 3.0
    # Too few pairs: no regression, the late values' mean with at least unit variance.
    mean, var = impute(np.array([[0.0, 1.0], [1.0, 3.0]]), np.array([5.0]))
    assert mean[0] == 2.0 and var[0] == 1.0
    mean, var = impute(np.zeros((0, 2)), np.array([5.0]))
    assert mean[0] == 0.0 and var[0] == 1.0


def test_bayes_fits_on_the_common_fidelity_and_imputes_the_rest() -> None:
    s = BayesSearcher(SPACE, n_initial=2, candidates=64, restarts=2, fidelity_trials=5)
    s.sync(HISTORY)
    # The GP's own observations: the five trials that reached step 9, and the diverged one.
    assert [(o.params["x"], o.loss) for o in s.observations[:5]] == [
        (0.1, 0.5), (0.2, 0.55), (0.3, 0.6), (0.4, 0.5), (0.5, 0.45),
    ]
    assert math.isnan(s.observations[5].loss) and len(s.observations) == 6
    assert [p["x"] for p in s.pending] == [1.1]
    x, y = s._training_data()
    gp, _ = s.fit_model(x, y)
    with_stopped = s._with_stopped(gp)
    assert len(with_stopped.y) == 6 + 4  # the stopped trials enter, imputed
    assert np.all(with_stopped.extra_noise[6:] > 0) and np.all(with_stopped.extra_noise[:6] == 0)
    for x_stopped in (0.6, 0.7, 0.8, 0.9):  # never suggested again
        assert not s.is_new({"x": x_stopped})
    d = s.ask()
    assert "at step 9 (4 trials stopped earlier imputed)" in d.reason  # type: ignore[union-attr]


def test_best_fidelity_option_keeps_every_trials_best_value() -> None:
    s = BayesSearcher(SPACE, fidelity="best")
    s.sync(HISTORY)
    # Every finished trial with a finite best value, the diverged one included (1.0).
    assert len([o for o in s.observations if math.isfinite(o.loss)]) == 10


# -- BOHB's random fraction: while early stopping censors the results, some asks are random

#: The same kind of run without early stopping: every finished trial completed.
UNCENSORED = History(Objective("loss"), (
    trial(1, "completed", curve([0.9, 0.7, 0.5, 0.4])),
    trial(2, "completed", curve([0.8, 0.6, 0.55, 0.45])),
    trial(3, "completed", curve([0.7, 0.65, 0.6, 0.58])),
    trial(4, "completed", curve([0.6, 0.5, 0.52, 0.5])),
    trial(5, "running", curve([0.4, 0.3])),
))


def asks(history: History, n: int = 8, **options: object) -> list[Suggest]:
    s = BayesSearcher(SPACE, seed=3, n_initial=2, candidates=64, restarts=2, **options)
    s.sync(history)
    out = []
    for _ in range(n):
        d = s.ask()
        assert isinstance(d, Suggest)
        out.append(d)
    return out


def is_random(d: Suggest) -> bool:
    return d.reason.startswith("random (random_fraction")


def test_censored_views() -> None:
    assert fidelity_view(HISTORY, 3).censored  # full fidelity, six trials stopped below it
    assert fidelity_view(HISTORY, 5).censored  # common step 9
    assert not fidelity_view(UNCENSORED, 3).censored
    assert not fidelity_view(History(Objective("loss"), ()), 3).censored


def test_which_asks_are_random_for_a_seed_and_a_censored_history() -> None:
    decisions = asks(HISTORY)
    # Keyed by (seed 3, 10 results, pending 1, 2, ... as each ask joins the pending set).
    assert [is_random(d) for d in decisions] == [
        True, False, True, True, True, True, True, False,
    ]
    assert all(d.reason.startswith("GP") for d in decisions if not is_random(d))
    # Deterministic: the same seed and history give the same suggestions.
    assert [d.params for d in asks(HISTORY)] == [d.params for d in decisions]
    # The old fidelity policy sees the same censoring, so the same asks are random.
    best = asks(HISTORY, fidelity="best")
    assert [is_random(d) for d in best] == [is_random(d) for d in decisions]


def test_fraction_bounds() -> None:
    assert all(is_random(d) for d in asks(HISTORY, random_fraction=1.0))
    assert not any(is_random(d) for d in asks(HISTORY, random_fraction=0.0))


def test_no_random_asks_without_early_stopping() -> None:
    assert not any(is_random(d) for d in asks(UNCENSORED, random_fraction=1.0))
    # ... nor for results told without a history (no fidelity is known).
    s = BayesSearcher(SPACE, seed=3, n_initial=2, candidates=64, restarts=2, random_fraction=1.0)
    for x, y in ((0.1, 0.5), (0.5, 0.2), (0.9, 0.7)):
        s.tell({"x": x}, y)
    d = s.ask()
    assert isinstance(d, Suggest) and d.reason.startswith("GP")


def test_random_fraction_option_is_validated() -> None:
    assert make_searcher("bayes", SPACE, options={"random_fraction": 0}).random_fraction == 0.0
    assert BayesSearcher(SPACE).random_fraction == pytest.approx(1 / 3)
    for bad in (-0.1, 1.5, True, "1/3"):
        with pytest.raises(ValueError):
            make_searcher("bayes", SPACE, options={"random_fraction": bad})
