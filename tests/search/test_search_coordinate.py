"""Exact rules of coordinate descent: default order, steps, windows, incumbent."""

from __future__ import annotations

import pytest

from tuitune.core.decisions import Exhausted, Suggest, Wait
from tuitune.search import CoordinateSearcher, make_searcher
from tuitune.search.coordinate import (
    ARCH,
    BATCH,
    DECAY,
    LR,
    MOMENTUM,
    REG,
    REST,
    default_order,
    param_rank,
)
from tuitune.core.space import CategoricalParam, FixedParam, FloatParam, IntParam, Pow2Param, Space


@pytest.mark.parametrize(
    ("name", "rank"),
    [
        ("lr", LR),
        ("learning_rate", LR),
        ("base_lr", LR),
        ("learningRate", LR),
        ("eta", LR),
        ("step_size", LR),
        ("momentum", MOMENTUM),
        ("beta1", MOMENTUM),
        ("adam_beta2", MOMENTUM),
        ("batch_size", BATCH),
        ("batchSize", BATCH),
        ("num_layers", ARCH),
        ("hidden1", ARCH),
        ("units", ARCH),
        ("width", ARCH),
        ("depth", ARCH),
        ("n_filters", ARCH),
        ("lr_decay", DECAY),
        ("decay_rate", DECAY),
        ("schedule", DECAY),
        ("warmup_steps", DECAY),
        ("dropout", REG),
        ("weight_decay", REG),
        ("wd", REG),
        ("l2", REG),
        ("l2_reg", REG),
        ("regularization", REG),
        ("optimizer", REST),
        ("seed", REST),
        ("use_batchnorm", REST),
        ("aggregate", REST),
    ],
)
def test_rank_from_the_name_by_default(name: str, rank: int) -> None:
    assert param_rank(FloatParam(name)) == rank


def test_a_declared_role_overrides_the_name() -> None:
    # Named like nothing in particular, declared the learning rate: swept first.
    space = Space(
        (
            Pow2Param("batch_size", low=16, high=256),
            FloatParam("lr", low=1e-4, high=1.0, log=True, role="other"),
            FloatParam("eta_0", low=1e-4, high=1.0, log=True, role="learning_rate"),
        )
    )
    assert default_order(space) == [["eta_0"], ["batch_size"], ["lr"]]


def test_default_order_for_a_network() -> None:
    space = Space(
        (
            FloatParam("dropout", low=0.0, high=0.5),
            CategoricalParam("optimizer", choices=("sgd", "adam")),
            IntParam("hidden", low=8, high=64),
            Pow2Param("batch_size", low=16, high=256),
            FloatParam("lr_decay", low=0.1, high=1.0),
            FloatParam("momentum", low=0.0, high=0.99),
            FloatParam("lr", low=1e-4, high=1.0, log=True),
            FixedParam("epochs", value=3),
        )
    )
    assert default_order(space) == [
        ["lr"],
        ["momentum"],
        ["batch_size"],
        ["hidden"],
        ["lr_decay"],
        ["dropout"],
        ["optimizer"],
    ]


SPACE = Space(
    (
        FloatParam("lr", low=1e-4, high=1.0, log=True),
        Pow2Param("batch_size", low=16, high=256),
        CategoricalParam("act", choices=("relu", "tanh")),
    )
)


def test_starts_from_defaults_then_sweeps_lr_over_its_range() -> None:
    s = CoordinateSearcher(SPACE, points=5)
    first = s.ask()
    assert isinstance(first, Suggest) and first.params == SPACE.defaults()
    s.tell(first.params, 1.0)
    lrs = []
    for _ in range(4):  # the fifth value, 1e-2, is the default: already observed
        d = s.ask()
        assert isinstance(d, Suggest)
        assert d.params["batch_size"] == 64 and d.params["act"] == "relu"
        lrs.append(d.params["lr"])
        s.tell(d.params, 2.0)
    assert lrs == pytest.approx([1e-4, 1e-3, 1e-1, 1.0])
    d = s.ask()
    assert isinstance(d, Suggest) and "tuning batch_size" in d.reason


def test_each_step_moves_to_the_incumbent() -> None:
    s = CoordinateSearcher(SPACE, points=5, sweeps=1)
    seen = []
    while isinstance(d := s.ask(), Suggest):
        p = dict(d.params)
        seen.append(p)
        s.tell(
            p,
            abs(p["lr"] - 1e-2)
            + (0.0 if p["batch_size"] == 32 else 0.5)
            + (0.0 if p["act"] == "tanh" else 0.1),
        )
    batch_step = [p for p in seen if p["batch_size"] != 64]
    assert batch_step and all(p["lr"] == pytest.approx(1e-2) for p in batch_step)
    act_step = [p for p in seen if p["act"] == "tanh"]
    assert act_step == [{"lr": pytest.approx(1e-2), "batch_size": 32, "act": "tanh"}]
    assert isinstance(s.ask(), Exhausted)


def test_second_sweep_narrows_the_window_around_the_incumbent() -> None:
    space = Space((FloatParam("x", low=0.0, high=1.0),))
    s = CoordinateSearcher(space, points=5, sweeps=2)
    xs = []
    while isinstance(d := s.ask(), Suggest):
        xs.append(d.params["x"])
        s.tell(d.params, abs(d.params["x"] - 0.3))
    # Defaults (.5, also the grid centre); sweep 1: 0, .25, (.5), .75, 1;
    # sweep 2 around .25 with half-width .25: 0 ... .5 in steps of .125.
    assert xs == pytest.approx([0.5, 0.0, 0.25, 0.75, 1.0, 0.125, 0.375])


def test_hand_trial_becomes_the_incumbent() -> None:
    space = Space((FloatParam("x", low=0.0, high=1.0), FloatParam("y", low=0.0, high=1.0)))
    s = CoordinateSearcher(space, points=3, order=["y", "x"])
    s.tell({"x": 0.9, "y": 0.1}, 0.0)
    d = s.ask()
    assert isinstance(d, Suggest)
    assert d.params["x"] == 0.9 and "tuning y" in d.reason


def test_groups_vary_together() -> None:
    space = Space(
        (
            IntParam("layers", low=1, high=3),
            IntParam("units", low=8, high=64),
            FloatParam("lr", low=1e-3, high=1e-1, log=True),
        )
    )
    s = CoordinateSearcher(space, points=4, order=[["layers", "units"]])
    assert s.groups == [["layers", "units"], ["lr"]]
    s.tell(space.defaults(), 1.0)
    combos = set()
    for _ in range(4):
        d = s.ask()
        assert isinstance(d, Suggest)
        combos.add((d.params["layers"], d.params["units"]))
        s.tell(d.params, 1.0)
    assert combos == {(1, 8), (1, 64), (3, 8), (3, 64)}


def test_order_names_are_validated() -> None:
    with pytest.raises(ValueError, match="'nope' is not a searchable parameter"):
        make_searcher("coordinate", SPACE, options={"order": ["lr", "nope"]})
    with pytest.raises(ValueError, match="order"):
        make_searcher("coordinate", SPACE, options={"order": "lr"})


def test_next_step_waits_for_running_trials_of_this_step() -> None:
    space = Space((FloatParam("x", low=0.0, high=1.0), FloatParam("y", low=0.0, high=1.0)))
    s = CoordinateSearcher(space, points=3, sweeps=1)
    start = s.ask()
    assert isinstance(start, Suggest)
    s.tell(start.params, 1.0)  # the defaults (.5, .5)
    step = [s.ask(), s.ask()]  # x = 0 and 1 (.5 is observed)
    assert all(isinstance(d, Suggest) for d in step)
    d = s.ask()
    assert isinstance(d, Wait) and "2 trials running" in d.reason
    s.tell(step[0].params, 0.0)  # type: ignore[union-attr]
    s.tell(step[1].params, 2.0)  # type: ignore[union-attr]
    d = s.ask()
    # The y step centres on the incumbent known after every x result: x = 0.
    assert isinstance(d, Suggest) and d.params["x"] == 0.0 and "tuning y" in d.reason


def test_last_step_with_running_trials_is_exhausted() -> None:
    space = Space((FloatParam("x", low=0.0, high=1.0),))
    s = CoordinateSearcher(space, points=3, sweeps=1)
    s.tell(space.defaults(), 1.0)
    assert isinstance(s.ask(), Suggest) and isinstance(s.ask(), Suggest)
    assert isinstance(s.ask(), Exhausted)


def test_an_incumbent_outside_an_edited_space_is_moved_inside():
    """After a space edit the best trial may lie outside the new space; each step keeps
    all but its group at the incumbent's values, which must not leak outside (they did:
    a narrowed lr, a dropped choice and a fixed value came back in every suggestion)."""
    space = Space((FloatParam("lr", low=0.01, high=0.05, log=True),
                   IntParam("units", low=10, high=20),
                   CategoricalParam("opt", choices=("sgd", "rmsprop")),
                   FixedParam("wd", value=0.0)))
    s = CoordinateSearcher(space, points=3, sweeps=2)
    s.tell({"lr": 0.5, "units": 40, "opt": "adam", "wd": 0.1}, 0.0)  # the best, from before
    s.tell({"lr": 0.02, "units": 15, "opt": "sgd", "wd": 0.0}, 1.0)
    seen = []
    while not isinstance(d := s.ask(), Exhausted):
        assert isinstance(d, Suggest)
        seen.append(d.params)
        assert space.validate(d.params) == d.params, d.params
        s.tell(d.params, 2.0)
    assert len(seen) >= 4
    # The moved incumbent: lr at its nearest edge, units too, opt at the first choice.
    assert {"lr": 0.05, "units": 20, "opt": "sgd", "wd": 0.0} in [
        {**p, "lr": round(p["lr"], 9)} for p in seen]
