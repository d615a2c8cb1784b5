"""Population based training: bottom -> top exploits with only mutable params perturbed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuitune.core.history import History, Objective, ParamChange, TrialView
from tuitune.core.space import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    MomentumParam,
    Pow2Param,
    Space,
)
from tuitune.stopping import PBT
from tuitune.stopping.pbt import perturb

SPACE = Space(
    (
        FloatParam("lr", mutable=True, low=1e-5, high=1.0, log=True),
        MomentumParam("beta", mutable=True),
        Pow2Param("batch", mutable=True, low=16, high=256),
        FloatParam("dropout", mutable=True, low=0.0, high=0.5),
        IntParam("layers", low=1, high=8),
        CategoricalParam("act", choices=("relu", "gelu")),
        FixedParam("epochs", value=30),
    )
)


def params(i: int) -> dict:
    return {
        "lr": 10.0 ** -(1 + i % 4),
        "beta": 0.99,
        "batch": 64,
        "dropout": 0.1 * (i % 5),
        "layers": 1 + i % 8,
        "act": "gelu" if i % 2 else "relu",
        "epochs": 30,
    }


def population(last_step: int = 5, checkpoints=(1,), overrides=None) -> History:
    """Eight running trials; trial i's loss is 0.1 * i at every step (1 is best)."""
    trials = []
    for i in range(1, 9):
        kw = dict(
            id=i,
            state="running",
            params=params(i),
            curve=tuple((s, 0.1 * i) for s in range(last_step + 1)),
            has_checkpoint=i in checkpoints,
        )
        kw.update((overrides or {}).get(i, {}))
        trials.append(TrialView(**kw))
    return History(Objective("val_loss"), tuple(trials))


def test_exploits_bottom_quantile_from_checkpointed_top() -> None:
    rule = PBT(SPACE, interval=5, quantile=0.25, resample_probability=0.0, seed=1)
    decisions = rule.decide(population())
    # 8 trials, quantile 1/4: bottom {7, 8}, top {1, 2}; only 1 has a checkpoint.
    assert [(d.target_id, d.source_id) for d in decisions] == [(7, 1), (8, 1)]
    source = params(1)
    for d in decisions:
        assert d.rule == "pbt"
        assert "trial 1" in d.reason and "bottom 25% of 8" in d.reason
        for name in ("layers", "act", "epochs"):  # not mutable: copied from the source
            assert d.params[name] == source[name]
        assert SPACE.validate(d.params) == dict(d.params)  # every value within bounds
        assert d.params["lr"] / source["lr"] == pytest.approx(0.8) or d.params["lr"] / source[
            "lr"
        ] == pytest.approx(1.2)
        assert d.params["batch"] in (32, 128)


def test_judges_once_per_interval_of_own_steps() -> None:
    rule = PBT(SPACE, interval=5, seed=1)
    assert rule.decide(population(last_step=4)) == []  # not at a boundary yet
    assert len(rule.decide(population(last_step=5))) == 2
    assert rule.decide(population(last_step=7)) == []  # same interval: judged already
    assert len(rule.decide(population(last_step=10))) == 2
    # A clone's intervals count from its own first point (it resumed at step 10).
    clone = {8: {"curve": ((11, 0.8), (12, 0.8))}}
    fresh = PBT(SPACE, interval=5, seed=1)
    decisions = fresh.decide(population(last_step=12, overrides=clone))
    assert [d.target_id for d in decisions] == [7]


def test_needs_a_checkpointed_top_trial_and_spares_protected() -> None:
    assert PBT(SPACE).decide(population(checkpoints=(3, 4))) == []
    spared = population(overrides={7: {"protected": True}})
    assert [d.target_id for d in PBT(SPACE).decide(spared)] == [8]


def test_perturbs_the_sources_current_params() -> None:
    tweak = (ParamChange("lr", 0.5, step=3), ParamChange("dropout", 0.4, step=None))
    h = population(overrides={1: {"changes": tweak}})
    (first, _) = PBT(SPACE, resample_probability=0.0).decide(h)
    assert first.params["lr"] in (pytest.approx(0.4), pytest.approx(0.6))
    # The pending (unapplied) dropout tweak is not what the checkpoint ran with.
    assert first.params["dropout"] in (pytest.approx(0.08), pytest.approx(0.12))


def test_small_population_and_max_mode() -> None:
    two = History(
        Objective("acc", "max"),
        tuple(
            TrialView(
                id=i, state="running", params=params(i), curve=((0, v), (5, v)), has_checkpoint=True
            )
            for i, v in ((1, 0.2), (2, 0.9))
        ),
    )
    (d,) = PBT(SPACE).decide(two)
    assert (d.target_id, d.source_id) == (1, 2)
    alone = History(Objective("acc"), two.trials[:1])
    assert PBT(SPACE).decide(alone) == []


def test_deterministic_for_a_seed() -> None:
    a = PBT(SPACE, seed=3).decide(population())
    b = PBT(SPACE, seed=3).decide(population())
    c = PBT(SPACE, seed=4).decide(population())
    assert a == b
    assert [d.params for d in a] != [d.params for d in c]


def test_resampling_stays_in_range() -> None:
    rule = PBT(SPACE, resample_probability=1.0, seed=0)
    for d in rule.decide(population()):
        assert SPACE.validate(d.params) == dict(d.params)
        assert d.params["layers"] == params(1)["layers"]


@pytest.mark.parametrize(
    ("param", "value", "factor", "expected"),
    [
        (FloatParam("x", low=0.0, high=1.0), 0.5, 1.2, 0.6),
        (FloatParam("x", low=0.0, high=1.0), 0.9, 1.2, 1.0),  # clipped
        (FloatParam("x", low=1e-4, high=1e-1, log=True), 1e-4, 0.8, 1e-4),
        (IntParam("n", low=1, high=10), 2, 1.2, 3),  # rounding would not move it
        (IntParam("n", low=1, high=10), 5, 0.8, 4),
        (IntParam("n", low=1, high=10), 1, 0.8, 1),
        (Pow2Param("b", low=16, high=256), 64, 0.8, 32),
        (Pow2Param("b", low=16, high=256), 256, 1.2, 256),
        (CategoricalParam("c", choices=("a", "b", "c")), "a", 0.8, "a"),
        (CategoricalParam("c", choices=("a", "b", "c")), "a", 1.2, "b"),
        (MomentumParam("m", low=0.9, high=0.999), 0.99, 0.8, 0.992),
    ],
)
def test_perturb_moves_in_the_params_own_scale(param, value, factor, expected) -> None:
    got = perturb(param, value, factor)
    assert got == pytest.approx(expected)
    assert param.validate(got) == got


def test_perturb_keeps_momentum_below_one() -> None:
    m = MomentumParam("m", low=0.9, high=0.999)
    values = [0.9, 0.95, 0.99, 0.999]
    assert all(m.low <= perturb(m, v, f) <= m.high for v in values for f in (0.8, 1.2))
    assert not any(math.isclose(perturb(m, 0.99, f), 0.99) for f in (0.8, 1.2))
    assert np.isfinite([perturb(m, v, 1.2) for v in values]).all()


def test_exploit_respects_conditions() -> None:
    """Issue 17.1: PBT copies the leader's configuration, conditional parameters and
    all, and perturbs only the mutable parameters the leader has; a conditional
    parameter it lacks never appears (resampling included: probability 1 here)."""
    from tuitune.core.conditions import parse_condition

    space = Space((
        CategoricalParam("opt", choices=("sgd", "adam")),
        FloatParam("lr", mutable=True, low=1e-5, high=1.0, log=True),
        MomentumParam("momentum", mutable=True, low=0.5, high=0.99,
                      when=parse_condition({"opt": "sgd"})),
        FloatParam("beta1", mutable=True, low=0.8, high=0.99,
                   when=parse_condition({"opt": "adam"})),
    ))

    def conf(i: int) -> dict:
        return ({"opt": "sgd", "lr": 0.01, "momentum": 0.9} if i % 2
                else {"opt": "adam", "lr": 0.001, "beta1": 0.9})

    trials = tuple(TrialView(id=i, state="running", params=conf(i),
                             curve=tuple((s, 0.1 * i) for s in range(6)),
                             has_checkpoint=i <= 2) for i in range(1, 9))
    history = History(Objective("loss"), trials)
    for resample in (0.0, 1.0):
        decisions = PBT(space, interval=5, resample_probability=resample).decide(history)
        assert decisions
        for d in decisions:
            source = conf(d.source_id)
            assert set(d.params) == set(source)
            assert d.params == space.active(d.params)
            assert d.params["opt"] == source["opt"]
