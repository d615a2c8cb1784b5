"""One contract suite run over every searcher in the registry."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tuitune.core.decisions import Exhausted, Suggest, Wait
from tuitune.core.history import History, Objective, ParamChange, TrialView
from tuitune.search import STRATEGIES, Searcher, make_searcher
from tuitune.core.space import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    MomentumParam,
    Pow2Param,
    Space,
)

#: Small budgets keep the Bayesian searcher fast in tests.
FAST: dict[str, dict[str, Any]] = {
    "bayes": {"n_initial": 4, "candidates": 128, "restarts": 2},
    "grid": {"points_per_dim": 2},
    "coordinate": {"points": 3},
}

MIXED = Space(
    (
        FloatParam("lr", low=1e-5, high=1e-1, log=True),
        MomentumParam("momentum", low=0.8, high=0.999),
        Pow2Param("batch_size", low=16, high=256),
        IntParam("layers", low=1, high=4),
        CategoricalParam("act", choices=("relu", "tanh", "gelu")),
        FloatParam("dropout", low=0.0, high=0.5),
        FixedParam("epochs", value=3),
    )
)


def loss(p: dict[str, Any]) -> float:
    return (
        (math.log10(p["lr"]) + 2.5) ** 2
        + (p["layers"] - 2) ** 2 * 0.1
        + (0.0 if p["act"] == "gelu" else 0.3)
        + abs(math.log2(p["batch_size"]) - 6) * 0.05
        + p["dropout"]
    )


def searcher(name: str, space: Space = MIXED, seed: int = 0, **kw: Any) -> Searcher:
    return make_searcher(name, space, seed=seed, options={**FAST.get(name, {}), **kw})


def run(s: Searcher, n: int, fn=loss) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(n):
        d = s.ask()
        assert not isinstance(d, Wait), "a sequential run has nothing to wait for"
        if isinstance(d, Exhausted):
            break
        out.append(dict(d.params))
        s.tell(d.params, fn(d.params))
    return out


names = pytest.mark.parametrize("name", sorted(STRATEGIES))


@names
def test_suggestions_respect_types_and_bounds(name: str) -> None:
    s = searcher(name)
    points = run(s, 10)
    assert len(points) >= 8
    for p in points:
        assert MIXED.validate(p) == p
        assert set(p) == set(MIXED.names)
        assert p["epochs"] == 3
        assert isinstance(p["layers"], int) and isinstance(p["batch_size"], int)
        assert p["batch_size"] in (16, 32, 64, 128, 256)


@names
def test_suggest_decision_names_origin_and_reason(name: str) -> None:
    d = searcher(name).ask()
    assert isinstance(d, Suggest)
    assert d.origin == name and d.reason


@names
def test_deterministic_per_seed(name: str) -> None:
    a, b = searcher(name, seed=3), searcher(name, seed=3)
    assert run(a, 7) == run(b, 7)


@names
def test_foreign_hand_trials_are_accepted(name: str) -> None:
    s = searcher(name)
    hand = {
        "lr": 3e-3,
        "momentum": 0.9,
        "batch_size": 64,
        "layers": 2,
        "act": "gelu",
        "dropout": 0.0,
    }
    s.tell(hand, loss({**hand, "epochs": 3}))
    # Partial and out-of-range hand values are tolerated too.
    s.tell({"lr": 0.5, "layers": 9}, 7.0)
    assert len(s.observations) == 2
    for p in run(s, 6):
        assert MIXED.key(p) != MIXED.key({**hand, "epochs": 3})


@names
def test_the_best_trials_outside_the_space_are_never_suggested_back(name: str) -> None:
    """After a space edit (docs/search.md) the best trials may lie outside the new space:
    a narrowed range, a dropped choice, a value now fixed. Nothing suggested leaves it
    (coordinate descent kept the incumbent's other values: the new test failed)."""
    s = searcher(name)
    earlier = [{"lr": 0.5, "momentum": 0.9, "batch_size": 512, "layers": 9, "act": "selu",
                "dropout": 0.9, "epochs": 7},
               {"lr": 1e-7, "momentum": 0.5, "batch_size": 8, "layers": 0, "act": "elu",
                "dropout": 0.7, "epochs": 1}]
    for i, p in enumerate(earlier):
        s.tell(p, -10.0 + i)  # far better than anything inside
    points = run(s, 12)
    assert len(points) >= 8
    for p in points:
        assert MIXED.validate(p) == p, p


@names
def test_no_duplicates_with_pending_trials(name: str) -> None:
    s = searcher(name)
    run(s, 5)
    asked = [s.ask() for _ in range(4)]
    params = [d.params for d in asked if isinstance(d, Suggest)]
    keys = [MIXED.key(p) for p in params]
    assert len(set(keys)) == len(keys)
    observed = {MIXED.key(o.params) for o in s.observations}
    assert not observed & set(keys)
    assert len(s.pending) == len(params)


@names
def test_set_pending_replaces_and_blocks(name: str) -> None:
    space = Space((IntParam("a", low=0, high=1), CategoricalParam("b", choices=("x", "y"))))
    s = searcher(name, space)
    s.set_pending([{"a": 0, "b": "x"}, {"a": 1, "b": "y"}])
    s.set_pending([{"a": 0, "b": "x"}])
    assert len(s.pending) == 1
    d = s.ask()
    assert isinstance(d, Suggest) and space.key(d.params) != space.key({"a": 0, "b": "x"})


@names
def test_exhausted_on_tiny_discrete_space(name: str) -> None:
    space = Space((IntParam("a", low=0, high=1), CategoricalParam("b", choices=("x", "y"))))
    s = searcher(name, space)
    seen = set()
    for _ in range(10):
        d = s.ask()
        if isinstance(d, Exhausted):
            break
        key = space.key(d.params)
        assert key not in seen
        seen.add(key)
        s.tell(d.params, float(d.params["a"]))
    assert isinstance(s.ask(), Exhausted)
    assert len(seen) <= 4


@names
def test_exhausted_when_only_pending_remain(name: str) -> None:
    space = Space((IntParam("a", low=0, high=1),))
    s = searcher(name, space)
    s.tell({"a": 0}, 1.0)
    s.set_pending([{"a": 1}])
    d = s.ask()
    assert isinstance(d, Exhausted) and d.reason


@names
def test_non_finite_values_are_handled(name: str) -> None:
    s = searcher(name)
    d = s.ask()
    assert isinstance(d, Suggest)
    s.tell(d.params, math.nan)
    s.tell({**d.params, "lr": 1e-4}, math.inf)
    for p in run(s, 6):
        assert MIXED.validate(p) == p
    assert any(math.isnan(o.loss) for o in s.observations)


@names
def test_max_mode_prefers_large_values(name: str) -> None:
    space = Space((FloatParam("x", low=0.0, high=1.0),))
    s = make_searcher(name, space, mode="max", options=FAST.get(name, {}))
    s.tell({"x": 0.1}, 1.0)
    s.tell({"x": 0.9}, 5.0)
    assert s.incumbent() == {"x": 0.9}


@names
def test_sync_from_history(name: str) -> None:
    trials = (
        TrialView(
            1,
            "completed",
            {
                "lr": 1e-3,
                "momentum": 0.9,
                "batch_size": 32,
                "layers": 2,
                "act": "relu",
                "dropout": 0.1,
                "epochs": 3,
            },
            value=0.5,
            curve=((0, 0.9), (10, 0.5)),
            changes=(ParamChange("lr", 1e-2, 8),),
        ),
        TrialView(
            2,
            "diverged",
            {
                "lr": 1e-1,
                "momentum": 0.99,
                "batch_size": 16,
                "layers": 1,
                "act": "tanh",
                "dropout": 0.0,
                "epochs": 3,
            },
        ),
        TrialView(
            3,
            "running",
            {
                "lr": 1e-4,
                "momentum": 0.9,
                "batch_size": 64,
                "layers": 3,
                "act": "gelu",
                "dropout": 0.2,
                "epochs": 3,
            },
        ),
        TrialView(
            4,
            "killed",
            {
                "lr": 1e-4,
                "momentum": 0.9,
                "batch_size": 64,
                "layers": 4,
                "act": "gelu",
                "dropout": 0.2,
                "epochs": 3,
            },
        ),
    )
    s = searcher(name)
    s.tell({"lr": 1e-2}, 0.1)  # replaced by the sync
    s.sync(History(Objective("loss"), trials))
    obs = s.observations
    assert len(obs) == 2
    assert obs[0].params["lr"] == 1e-3  # the value that held for most steps
    assert math.isnan(obs[1].loss)
    assert [p["layers"] for p in s.pending] == [3]
    d = s.ask()
    assert isinstance(d, Suggest)
    assert MIXED.key(d.params) not in {MIXED.key(t.params) for t in trials[:3]}


@names
def test_told_suggestion_leaves_pending(name: str) -> None:
    s = searcher(name)
    d = s.ask()
    assert isinstance(d, Suggest) and len(s.pending) == 1
    s.tell(d.params, 1.0)
    assert s.pending == ()


@names
def test_unknown_option_is_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="unknown option 'nope'"):
        make_searcher(name, MIXED, options={"nope": 1})


@pytest.mark.parametrize(("name", "options", "message"), [
    ("coordinate", {"points": 1}, "search strategy 'coordinate': points must be >= 2, got 1"),
    ("grid", {"zoom": math.inf}, "search strategy 'grid': zoom must be an integer, got inf"),
    ("bayes", {"pending": "hopeful"},
     "search strategy 'bayes': pending must be one of believer, liar, got 'hopeful'"),
    ("bayes", {"deterministic": 1}, "search strategy 'bayes': deterministic must be true or false"),
    ("coordinate", {"order": "lr"}, "search strategy 'coordinate': order: expected a list"),
])
def test_bad_option_values_are_one_line_naming_strategy_and_key(name, options, message):
    """The same checks (tuitune/core/options.py) and wording as the stopping rules'."""
    with pytest.raises(ValueError) as info:
        make_searcher(name, MIXED, options=options)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_random_draws_follow_declared_scales() -> None:
    space = Space(
        (FloatParam("lr", low=1e-6, high=1.0, log=True), Pow2Param("batch", low=1, high=1024))
    )
    s = make_searcher("random", space, seed=1)
    draws = [s.ask().params for _ in range(400)]  # type: ignore[union-attr]
    lrs = np.log10([d["lr"] for d in draws])
    assert 0.4 < np.mean(lrs < -3) < 0.6
    assert {d["batch"] for d in draws} == {2**e for e in range(11)}


def test_registry_and_errors() -> None:
    from tuitune.search import OPTIONS

    assert set(STRATEGIES) == {"random", "grid", "coordinate", "bayes"}
    assert OPTIONS["grid"] == {"points_per_dim", "zoom"}
    assert {"n_initial", "candidates", "restarts", "pending", "deterministic"} <= OPTIONS["bayes"]
    with pytest.raises(ValueError, match="unknown search strategy 'tpe'"):
        make_searcher("tpe", MIXED)
    with pytest.raises(ValueError, match="mode"):
        make_searcher("random", MIXED, mode="up")
    with pytest.raises(ValueError) as err:
        make_searcher("bayes", MIXED, options={"restarts": 0})
    assert "\n" not in str(err.value)


@names
def test_wide_integer_range_is_never_listed(name: str) -> None:
    space = Space((IntParam("units", low=1, high=10**9), FloatParam("x", low=0.0, high=1.0)))
    s = searcher(name, space)
    for p in run(s, 6, fn=lambda p: p["x"] + p["units"] * 1e-9):
        assert 1 <= p["units"] <= 10**9 and isinstance(p["units"], int)


def _plane_loss(p: dict[str, Any]) -> float:
    return (p["x"] - 0.3) ** 2 + p["y"]


@names
def test_concurrent_asks_wait_or_suggest_until_results_end_the_wait(name: str) -> None:
    # Two workers: a Wait is answered by finishing a running trial. Wait only comes
    # while something is pending, and the search does not end early: staged
    # strategies propose exactly the points of a sequential run.
    space = Space((FloatParam("x", low=0.0, high=1.0), FloatParam("y", low=0.0, high=1.0)))
    options = {"zoom": 2} if name == "grid" else {}
    s = searcher(name, space, **options)
    running: list[dict[str, Any]] = []
    suggested, waits = [], 0
    for _ in range(60):
        d = s.ask()
        if isinstance(d, Exhausted):
            break
        if isinstance(d, Suggest):
            running.append(dict(d.params))
            suggested.append(dict(d.params))
        waits += isinstance(d, Wait)
        if isinstance(d, Wait) or len(running) == 2:
            assert running, "Wait with nothing pending"
            done = running.pop(0)
            s.tell(done, _plane_loss(done))
    if name in ("grid", "coordinate"):
        sequential = run(searcher(name, space, **options), 100, fn=_plane_loss)
        assert waits > 0
        assert sorted(map(space.key, suggested)) == sorted(map(space.key, sequential))
    else:
        assert waits == 0 and len(suggested) == 60
