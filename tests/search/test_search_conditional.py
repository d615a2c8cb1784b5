"""Conditional parameters (issue 17.1): the space, the condition grammar, and the
searchers' contract on a conditional space."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tuitune.core.conditions import ConditionError, parse_condition
from tuitune.core.decisions import Exhausted, Suggest, Wait
from tuitune.core.history import History, Objective, TrialView
from tuitune.search import STRATEGIES, make_searcher
from tuitune.search.conditional import Embedding, OnCube
from tuitune.core.space import (
    INACTIVE_UNIT,
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    MomentumParam,
    Space,
    SpaceError,
)

from test_search_contract import FAST  # the contract suite's small budgets
from test_search_contract import run as contract_run
when = parse_condition

COND = Space((
    IntParam("layers", low=1, high=3),
    IntParam("units_1", low=16, high=256, log=True),
    IntParam("units_2", low=16, high=256, log=True, when=when("layers >= 2")),
    IntParam("units_3", low=16, high=256, log=True, when=when("layers >= 3")),
    CategoricalParam("opt", choices=("sgd", "adam")),
    FloatParam("lr", low=1e-4, high=1.0, log=True),
    MomentumParam("momentum", low=0.5, high=0.99, when=when({"opt": "sgd"})),
    FloatParam("beta1", low=0.8, high=0.99, when=when('opt == "adam" and layers > 1')),
    FixedParam("epochs", value=2),
))


def active_names(p: dict[str, Any]) -> set[str]:
    names = {"layers", "units_1", "opt", "lr", "epochs"}
    names |= {f"units_{k}" for k in (2, 3) if p["layers"] >= k}
    names |= {"momentum"} if p["opt"] == "sgd" else set()
    names |= {"beta1"} if p["opt"] == "adam" and p["layers"] > 1 else set()
    return names


def loss(p: dict[str, Any]) -> float:
    v = (math.log10(p["lr"]) + 2) ** 2 + abs(p["layers"] - 2) * 0.3
    if p["opt"] == "sgd":
        return v + (p["momentum"] - 0.9) ** 2 * 10
    return v + ((p["beta1"] - 0.9) ** 2 * 10 if "beta1" in p else 0.5)


def searcher(name: str, space: Space = COND, seed: int = 0, **kw: Any):  # type: ignore[no-untyped-def]
    return make_searcher(name, space, seed=seed, options={**FAST.get(name, {}), **kw})


def run(s, n: int, fn=loss) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return contract_run(s, n, fn)


names = pytest.mark.parametrize("name", sorted(STRATEGIES))


# -- the grammar -------------------------------------------------------------------
@pytest.mark.parametrize("text, values, holds", [
    ("layers >= 3", {"layers": 3}, True),
    ("layers >= 3", {"layers": 2}, False),
    ("layers>1 and opt == 'sgd'", {"layers": 2, "opt": "sgd"}, True),
    ("layers>1 and opt == 'sgd'", {"layers": 2, "opt": "adam"}, False),
    ('opt != "sgd"', {"opt": "adam"}, True),
    ("flag == true", {"flag": True}, True),
    ("flag == true", {"flag": 1}, False),  # a bool is not the number 1 here
    ("x < 1e-2", {"x": 0.001}, True),
    ("x == 3", {"x": 3.0}, True),
    ("layers >= 3", {}, False),  # an absent parent: the condition fails
])
def test_condition_text(text: str, values: dict[str, Any], holds: bool) -> None:
    assert parse_condition(text).holds(values) is holds


def test_condition_table_means_equality_or_one_of() -> None:
    c = parse_condition({"opt": ["adam", "rmsprop"], "layers": 2})
    assert c.holds({"opt": "rmsprop", "layers": 2})
    assert not c.holds({"opt": "sgd", "layers": 2})


@pytest.mark.parametrize("raw", [
    "__import__('os').system('true')", "layers >=", "layers >= 3 or x == 1",
    "layers >= 3 and", "3 <= layers", "layers >= x", "", {}, 3, {"a": {"b": 1}},
    "layers >= 1e999",
])
def test_condition_refuses_anything_else(raw: Any) -> None:
    with pytest.raises(ConditionError) as info:
        parse_condition(raw)
    assert "\n" not in str(info.value)


# -- the space ---------------------------------------------------------------------
def test_space_keeps_only_active_parameters() -> None:
    full = {"layers": 1, "units_1": 32, "units_2": 64, "units_3": 64, "opt": "adam",
            "lr": 0.01, "momentum": 0.9, "beta1": 0.9, "epochs": 2}
    assert set(COND.active(full)) == {"layers", "units_1", "opt", "lr", "epochs"}
    assert COND.complete({"layers": 3, "opt": "sgd"}) == {
        "layers": 3, "units_1": COND["units_1"].initial(), "units_2": COND["units_2"].initial(),
        "units_3": COND["units_3"].initial(), "opt": "sgd", "lr": COND["lr"].initial(),
        "momentum": COND["momentum"].initial(), "epochs": 2}
    # Inactive values do not change a configuration's identity.
    assert COND.key(full) == COND.key(COND.active(full))
    assert COND.key(full) != COND.key({**full, "layers": 2})
    u = COND.encode(COND.active(full))
    names = [p.name for p in COND.dims]
    assert u[names.index("units_2")] == INACTIVE_UNIT
    assert COND.key(COND.decode(u)) == COND.key(COND.active(full))
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = COND.sample(rng)
        assert set(p) == active_names(p)
        assert COND.validate(p) == p


def test_space_refuses_cycles_and_unknown_names() -> None:
    with pytest.raises(SpaceError, match="cycle: a -> b -> a"):
        Space((IntParam("a", low=0, high=2, when=when("b > 0")),
               IntParam("b", low=0, high=2, when=when("a > 0"))))
    with pytest.raises(SpaceError, match="unknown parameter 'nope'"):
        Space((IntParam("a", low=0, high=2, when=when("nope > 0")),))


def test_a_child_of_an_inactive_parent_is_inactive() -> None:
    space = Space((CategoricalParam("opt", choices=("sgd", "adam")),
                   FloatParam("m", low=0.1, high=0.9, when=when({"opt": "sgd"})),
                   FloatParam("n", low=0.1, high=0.9, when=when("m > 0"))))
    assert space.complete({"opt": "adam", "m": 0.5, "n": 0.5}) == {"opt": "adam"}
    assert set(space.complete({"opt": "sgd"})) == {"opt", "m", "n"}


# -- every searcher on a conditional space ---------------------------------------------
@names
def test_suggestions_hold_exactly_the_active_parameters(name: str) -> None:
    points = run(searcher(name), 16)
    assert len(points) >= 10
    for p in points:
        assert set(p) == active_names(p), p
        assert COND.validate(p) == p
    keys = [COND.key(p) for p in points]
    assert len(set(keys)) == len(keys)


@names
def test_conditional_deterministic_per_seed(name: str) -> None:
    assert run(searcher(name, seed=4), 12) == run(searcher(name, seed=4), 12)


@names
def test_conditional_pending_and_observed_are_not_repeated(name: str) -> None:
    s = searcher(name)
    run(s, 6)
    asked = [s.ask() for _ in range(4)]
    params = [d.params for d in asked if isinstance(d, Suggest)]
    keys = {COND.key(p) for p in params}
    assert len(keys) == len(params)
    assert not keys & {COND.key(o.params) for o in s.observations}


@names
def test_hand_trials_with_inactive_values_count_without_them(name: str) -> None:
    s = searcher(name)
    # A hand trial that carries a value for a parameter its condition leaves out.
    s.tell({"layers": 1, "units_1": 32, "units_3": 99, "opt": "adam", "lr": 0.01}, 0.4)
    assert "units_3" not in s.observations[0].params
    for p in run(s, 5):
        assert set(p) == active_names(p)


@names
def test_sync_from_history_with_absent_parameters(name: str) -> None:
    trials = (
        TrialView(1, "completed", {"layers": 1, "units_1": 32, "opt": "adam", "lr": 0.01,
                                   "epochs": 2}, value=0.5, curve=((1, 0.5),)),
        TrialView(2, "diverged", {"layers": 3, "units_1": 32, "units_2": 16, "units_3": 16,
                                  "opt": "sgd", "lr": 0.5, "momentum": 0.9, "epochs": 2}),
        TrialView(3, "running", {"layers": 2, "units_1": 64, "units_2": 64, "opt": "adam",
                                 "lr": 1e-3, "beta1": 0.9, "epochs": 2}),
    )
    s = searcher(name)
    s.sync(History(Objective("loss"), trials))
    assert len(s.observations) == 2 and math.isnan(s.observations[1].loss)
    for p in run(s, 4):
        assert set(p) == active_names(p)
        assert COND.key(p) not in {COND.key(t.params) for t in trials}


@names
def test_tiny_conditional_space_is_exhausted_after_its_distinct_configurations(name: str
                                                                              ) -> None:
    # a in {0, 1}; b in {x, y} exists only when a == 1: three configurations, not four.
    space = Space((IntParam("a", low=0, high=1),
                   CategoricalParam("b", choices=("x", "y"), when=when("a == 1"))))
    s = searcher(name, space)
    seen = []
    for _ in range(10):
        d = s.ask()
        if isinstance(d, Exhausted):
            break
        seen.append(space.key(d.params))
        s.tell(d.params, float(d.params["a"]))
    assert len(seen) == len(set(seen)) <= 3
    assert isinstance(s.ask(), Exhausted)
    if name in ("random", "grid", "bayes"):
        assert len(seen) == 3


def test_grid_lays_out_each_distinct_point_once() -> None:
    s = make_searcher("grid", COND, options={"points_per_dim": 3})
    points = s.round_points()
    assert len({COND.key(p) for p in points}) == len(points)
    assert {p["layers"] for p in points} == {1, 2, 3}
    assert all("units_3" not in p for p in points if p["layers"] < 3)


def test_coordinate_descent_walks_only_active_parameters() -> None:
    s = make_searcher("coordinate", COND, options={"points": 3})
    reasons = []
    for _ in range(40):
        d = s.ask()
        if not isinstance(d, Suggest):
            break
        reasons.append(d.reason)
        tuned = d.reason.split("tuning ")[-1]
        for n in ("units_2", "units_3", "momentum", "beta1"):
            if f"{n}=" in tuned:
                assert n in d.params
        # SGD and two layers stay best, so beta1 and units_3 never exist at the
        # incumbent and are never walked; momentum and units_2 are.
        s.tell(d.params, loss(d.params) + (0.0 if d.params["opt"] == "sgd" else 5.0))
    assert not any("tuning beta1" in r or "tuning units_3" in r for r in reasons)
    assert any("tuning momentum" in r for r in reasons)
    assert any("tuning units_2" in r for r in reasons)


def test_bayes_model_sees_an_indicator_and_a_constant_for_inactive_dimensions() -> None:
    e = Embedding(COND)
    p = COND.complete({"layers": 1, "opt": "adam"})
    x = e.embed_params(p, COND.encode(p))
    d = len(COND.dims)
    # Indicators for units_2, units_3 and beta1 (conditions on the number of
    # layers); momentum's condition is on a categorical alone, which the kernel's
    # Hamming term on `opt` already separates.
    assert x.shape == (d + 3,)
    assert list(x[d:]) == [0.0, 0.0, 0.0]
    names = [p.name for p in COND.dims]
    for n in ("units_2", "units_3", "momentum", "beta1"):
        assert x[names.index(n)] == INACTIVE_UNIT
    q = COND.complete({"layers": 3, "opt": "sgd"})
    assert list(e.embed_params(q, COND.encode(q))[d:]) == [1.0, 1.0, 0.0]
    # From cube points, activity is read off the decoded parents.
    u = np.vstack([COND.encode(p), COND.encode(q)])
    assert np.array_equal(e.embed(u)[:, d:], [[0, 0, 0], [1, 1, 0]])
    assert np.array_equal(e.active(u), [[0, 0, 0, 0], [1, 1, 1, 0]])


def test_embedding_activity_agrees_with_the_space_on_random_points() -> None:
    # The embedding compiles the conditions to array code; the space evaluates
    # them one configuration at a time. They must agree on every point.
    e = Embedding(COND)
    u = np.random.default_rng(3).random((500, len(COND.dims)))
    active = e.active(u)
    cond_names = [COND.dims[j].name for j in e.cond]
    for row, flags in zip(u, active, strict=True):
        live = COND.decode(row)
        assert list(flags) == [n in live for n in cond_names]


def test_bayes_model_inputs_are_remembered_apart_for_clipped_and_unclipped() -> None:
    s = searcher("bayes")
    p = COND.complete({"layers": 2, "opt": "sgd"})
    outside = {**p, "lr": 10.0}  # a hand trial past the range's top
    assert s._model_input(outside, clip=False) is not None
    first = s._model_input(outside, clip=True)
    again = s._model_input(dict(outside), clip=True)
    assert first is not None and again is not None
    assert np.array_equal(first, again)
    lr = [q.name for q in COND.dims].index("lr")
    assert first[lr] == 1.0 and s._model_input(outside, clip=False)[lr] > 1.0  # type: ignore[index]


def test_bayes_gradient_through_the_embedding_matches_finite_differences() -> None:
    s = searcher("bayes", n_initial=6)
    run(s, 12)
    x, y = s._training_data()
    gp, _ = s.fit_model(x, y)
    f = OnCube(gp, s._embedding)
    rng = np.random.default_rng(1)
    u = rng.random((4, len(COND.dims)))
    mean, var, dmean, dvar = f.posterior_grad(u)
    cont = [j for j, p in enumerate(COND.dims) if p.name in ("lr", "momentum", "beta1")]
    h = 1e-6
    for j in cont:
        up, dn = u.copy(), u.copy()
        up[:, j] += h
        dn[:, j] -= h
        fd = (f.posterior(up)[0] - f.posterior(dn)[0]) / (2 * h)
        assert np.allclose(dmean[:, j], fd, atol=1e-5)
    assert np.allclose(f.posterior(u)[0], mean)


@pytest.mark.slow  # about 15 s: 30 model asks
def test_bayes_learns_which_branch_is_better() -> None:
    # The adam branch with layers > 1 is best (beta1 near 0.9); after the initial
    # design most model suggestions go there.
    s = make_searcher("bayes", COND, seed=2, options={"n_initial": 8, "candidates": 256,
                                                      "restarts": 3})
    points = run(s, 30)
    late = points[15:]
    assert sum(1 for p in late if "beta1" in p) >= len(late) // 2
    assert min(loss(p) for p in points) < 0.05
