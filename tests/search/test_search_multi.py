"""Several objectives and constraints at the searcher level (issue 17, items 2 and 3),
the contract for every strategy, and the acquisitions' gradients."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tuitune.core.decisions import Exhausted, Suggest
from tuitune.core.history import Constraint, History, Objective, TrialView
from tuitune.core.pareto import hypervolume_2d, pareto_mask
from tuitune.core.space import FloatParam, Space
from tuitune.search import STRATEGIES, make_searcher
from tuitune.search.gp import GaussianProcess, Hyper
from tuitune.search.multi_acq import LogEHVI2, LogFeasibility
from tests.search.test_search_contract import FAST, MIXED, loss

SQUARE = Space((FloatParam("x", low=0.0, high=1.0), FloatParam("y", low=0.0, high=1.0)))


def two(p: dict[str, Any]) -> tuple[float, float]:
    """Two objectives in conflict: a loss and a cost that grows with layers."""
    return loss(p), float(p["layers"]) + p["dropout"]


names = pytest.mark.parametrize("name", sorted(STRATEGIES))


@names
def test_several_objectives_work_or_are_refused_in_one_line(name: str) -> None:
    kw = {"options": FAST.get(name, {})}
    if not STRATEGIES[name].multi_objective:
        with pytest.raises(ValueError) as err:
            make_searcher(name, MIXED, mode=("min", "min"), **kw)
        assert "\n" not in str(err.value) and "one objective" in str(err.value)
        return
    s = make_searcher(name, MIXED, seed=3, mode=("min", "max"), **kw)
    seen = set()
    for _ in range(8):
        d = s.ask()
        assert isinstance(d, Suggest)
        assert MIXED.validate(d.params) == d.params
        key = MIXED.key(d.params)
        assert key not in seen
        seen.add(key)
        a, b = two(d.params)
        s.tell(d.params, (a, -b))  # the second is maximised: -cost
    s.tell({**d.params, "lr": 1e-4}, (math.nan, math.nan))  # a failed trial
    assert isinstance(s.ask(), Suggest)
    front = s.front()
    losses = [(loss(p), two(p)[1]) for p in front]
    assert front and pareto_mask(losses).all()  # nothing on it dominates another
    with pytest.raises(ValueError, match="expected 2 objective values"):
        s.tell(d.params, 1.0)


@names
def test_constraints_pick_the_best_feasible(name: str) -> None:
    s = make_searcher(name, SQUARE, options=FAST.get(name, {}))
    s.tell({"x": 0.1, "y": 0.1}, 0.1, [5.0])  # best value, but violates
    s.tell({"x": 0.5, "y": 0.5}, 0.5, [-1.0])
    s.tell({"x": 0.9, "y": 0.9}, 0.9, [math.nan])  # unknown: counts as met
    assert s.incumbent() == {"x": 0.5, "y": 0.5}
    assert s.front() == [{"x": 0.5, "y": 0.5}]
    assert isinstance(s.ask(), (Suggest, Exhausted))


def test_bayes_prefers_feasible_points() -> None:
    # Minimise x + y subject to x >= 0.6: the optimum sits on the constraint's edge.
    s = make_searcher("bayes", SQUARE, seed=1, options={**FAST["bayes"], "n_initial": 6})
    late_feasible = 0
    for i in range(22):
        d = s.ask()
        assert isinstance(d, Suggest)
        p = d.params
        s.tell(p, p["x"] + p["y"], [0.6 - p["x"]])
        if i >= 12:
            late_feasible += p["x"] >= 0.6 - 0.02
            assert "feasibility" in d.reason
    assert late_feasible >= 7  # the model's asks stay (nearly) feasible
    best = s.incumbent()
    assert best is not None and best["x"] >= 0.6 and best["x"] + best["y"] < 0.8


def test_bayes_two_objectives_beats_random_hypervolume() -> None:
    def zdt1(p: dict[str, Any]) -> tuple[float, float]:
        f1, g = p["x"], 1.0 + 9.0 * p["y"]
        return f1, g * (1.0 - math.sqrt(f1 / g))

    hv = {}
    for name in ("random", "bayes"):
        s = make_searcher(name, SQUARE, seed=0, mode=("min", "min"),
                          options={**FAST["bayes"], "n_initial": 6} if name == "bayes" else {})
        ys = []
        for _ in range(20):
            d = s.ask()
            ys.append(zdt1(d.params))
            s.tell(d.params, ys[-1])
        hv[name] = hypervolume_2d(ys, (1.1, 11.0))
    assert hv["bayes"] > hv["random"]
    assert "hypervolume" in d.reason


def test_sync_reads_every_objective_and_constraint() -> None:
    objectives = (Objective("val_loss", "min"), Objective("train_seconds", "min"))
    constraints = (Constraint("gpu_mem_mb", "<=", 8000.0),)
    trials = (
        TrialView(1, "completed", {"x": 0.1, "y": 0.1}, value=0.3,
                  extras={"train_seconds": 50.0, "gpu_mem_mb": 9000.0}),
        TrialView(2, "completed", {"x": 0.5, "y": 0.5}, value=0.4,
                  extras={"train_seconds": 20.0, "gpu_mem_mb": 100.0}),
        TrialView(3, "diverged", {"x": 0.9, "y": 0.9}, extras={"train_seconds": 5.0}),
        TrialView(4, "running", {"x": 0.7, "y": 0.2}),
    )
    h = History(objectives[0], trials, objectives=objectives, constraints=constraints)
    s = make_searcher("bayes", SQUARE, mode=("min", "min"), options=FAST["bayes"])
    s.sync(h)
    obs = s.observations
    assert [o.all_losses for o in obs[:2]] == [(0.3, 50.0), (0.4, 20.0)]
    assert [o.violations for o in obs[:2]] == [(1000.0,), (-7900.0,)]
    assert [o.feasible for o in obs] == [False, True, True]
    assert all(math.isnan(v) for v in obs[2].all_losses)
    assert s.pending == ({"x": 0.7, "y": 0.2},)
    assert s.front() == [{"x": 0.5, "y": 0.5}]


def test_pareto_mask_and_hypervolume() -> None:
    y = np.array([[1.0, 4.0], [2.0, 2.0], [3.0, 3.0], [4.0, 1.0], [2.0, 2.0], [np.nan, 0.0]])
    assert pareto_mask(y).tolist() == [True, True, False, True, True, False]
    # Staircase (1,4) (2,2) (4,1) under (5,5): 4*1 + 3*2 + 1*1 = 11.
    assert hypervolume_2d(y, (5.0, 5.0)) == pytest.approx(11.0)
    assert hypervolume_2d([[6.0, 0.0]], (5.0, 5.0)) == 0.0


def _gp(seed: int) -> GaussianProcess:
    rng = np.random.default_rng(seed)
    x = rng.random((8, 2))
    y = np.sin(4 * x[:, 0] + seed) + x[:, 1]
    return GaussianProcess(x, (y - y.mean()) / y.std(), np.zeros(2, bool),
                           Hyper(np.array([3.0, 2.0]), 1.0, 1e-4))


def _check_gradient(acq: Any, xq: np.ndarray) -> None:
    value, grad = acq.value_and_grad(xq)
    np.testing.assert_allclose(value, acq(xq), rtol=1e-10, atol=1e-10)
    eps = 1e-6
    for j in range(xq.shape[1]):
        step = np.zeros_like(xq)
        step[:, j] = eps
        numeric = (acq(xq + step) - acq(xq - step)) / (2 * eps)
        np.testing.assert_allclose(grad[:, j], numeric, rtol=1e-4, atol=1e-5)


def test_ehvi_matches_monte_carlo_and_its_gradient_is_right() -> None:
    gp1, gp2 = _gp(0), _gp(1)
    front = np.array([[-1.0, 0.5], [0.0, -0.5], [0.8, -1.2]])
    ref = np.array([1.5, 1.5])
    acq = LogEHVI2(gp1, gp2, front, ref)
    xq = np.random.default_rng(5).random((6, 2))
    m1, v1 = gp1.posterior(xq)
    m2, v2 = gp2.posterior(xq)
    rng = np.random.default_rng(0)
    base = hypervolume_2d(front, ref)
    for i in range(2):
        draws = np.column_stack([rng.normal(m1[i], np.sqrt(v1[i]), 3000),
                                 rng.normal(m2[i], np.sqrt(v2[i]), 3000)])
        mc = np.mean([hypervolume_2d(np.vstack([front, d]), ref) - base for d in draws])
        assert math.exp(acq(xq[i:i + 1])[0]) == pytest.approx(mc, rel=0.1, abs=1e-3)
    _check_gradient(acq, xq)
    far = LogEHVI2(gp1, gp2, np.array([[-30.0, -30.0]]), ref)  # nothing to gain: tiny, finite
    assert np.all(np.isfinite(far(xq))) and np.all(far(xq) < -100)


def test_feasibility_gradient() -> None:
    acq = LogFeasibility(_gp(2), 0.3)
    xq = np.random.default_rng(6).random((5, 2))
    assert np.all(acq(xq) <= 0.0)
    _check_gradient(acq, xq)
