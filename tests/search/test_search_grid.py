"""Exact rules of grid search: enumeration order, values per dimension, zoom."""

from __future__ import annotations

import pytest

from tuitune.core.decisions import Exhausted, Suggest, Wait
from tuitune.search import GridSearcher
from tuitune.core.space import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    Pow2Param,
    Space,
)


def drain(s: GridSearcher, fn=lambda p: 0.0) -> list[dict]:  # type: ignore[no-untyped-def]
    out = []
    while isinstance(d := s.ask(), Suggest):
        out.append(dict(d.params))
        s.tell(d.params, fn(d.params))
    return out


def test_enumeration_order_last_dimension_fastest() -> None:
    space = Space(
        (
            FloatParam("x", low=0.0, high=1.0),
            CategoricalParam("c", choices=("a", "b")),
            FixedParam("f", value=7),
        )
    )
    points = drain(GridSearcher(space))
    assert [(p["x"], p["c"]) for p in points] == [
        (0.0, "a"),
        (0.0, "b"),
        (0.5, "a"),
        (0.5, "b"),
        (1.0, "a"),
        (1.0, "b"),
    ]
    assert all(p["f"] == 7 for p in points)


def test_values_per_dimension_follow_declared_scales() -> None:
    space = Space(
        (
            FloatParam("lr", low=1e-4, high=1e-2, log=True),
            Pow2Param("batch", low=16, high=64),
            IntParam("layers", low=1, high=10),
        )
    )
    points = drain(GridSearcher(space, points_per_dim=3))
    assert sorted({p["lr"] for p in points}) == pytest.approx([1e-4, 1e-3, 1e-2])
    assert sorted({p["batch"] for p in points}) == [16, 32, 64]  # all values: 3 <= 3
    assert sorted({p["layers"] for p in points}) == [1, 6, 10]  # cells of the unit cube
    assert len(points) == 27


def test_discrete_dimension_uses_all_values_when_few() -> None:
    space = Space((IntParam("n", low=1, high=2), FloatParam("x", low=0.0, high=1.0)))
    points = drain(GridSearcher(space, points_per_dim=4))
    assert [p["n"] for p in points] == [1] * 4 + [2] * 4
    assert [p["x"] for p in points[:4]] == pytest.approx([0, 1 / 3, 2 / 3, 1])


def test_observed_points_are_skipped_then_exhausted() -> None:
    space = Space((FloatParam("x", low=0.0, high=1.0),))
    s = GridSearcher(space)
    s.tell({"x": 0.5}, 1.0)  # a hand trial on a grid point
    assert [p["x"] for p in drain(s)] == [0.0, 1.0]
    d = s.ask()
    assert isinstance(d, Exhausted) and "done" in d.reason


def test_zoom_halves_the_span_around_the_best_point() -> None:
    space = Space((FloatParam("x", low=0.0, high=1.0),))
    s = GridSearcher(space, zoom=2)
    points = drain(s, fn=lambda p: abs(p["x"] - 0.8))
    xs = [p["x"] for p in points]
    # Coarse 0, .5, 1 -> best 1.0 -> box [.5, 1] (shifted inside): only .75 is new;
    # best .75 -> box [.625, .875].
    assert xs == pytest.approx([0.0, 0.5, 1.0, 0.75, 0.625, 0.875])
    assert s.round == 2


def test_zoom_exact_boxes() -> None:
    space = Space((FloatParam("x", low=0.0, high=1.0),))
    s = GridSearcher(space, zoom=2)
    xs = [p["x"] for p in drain(s, fn=lambda p: abs(p["x"] - 0.55))]
    # Round 0: 0, .5, 1; best .5 -> box [.25, .75]: .25, (.5 seen), .75;
    # best still .5 -> box [.375, .625]: .375, (.5 seen), .625.
    assert xs == pytest.approx([0.0, 0.5, 1.0, 0.25, 0.75, 0.375, 0.625])


def test_zoom_box_is_shifted_inside_the_cube() -> None:
    space = Space((FloatParam("x", low=0.0, high=1.0),))
    s = GridSearcher(space, zoom=1)
    xs = [p["x"] for p in drain(s, fn=lambda p: p["x"])]
    # Best 0.0 -> box [0, .5] rather than [-.25, .25].
    assert xs == pytest.approx([0.0, 0.5, 1.0, 0.25])


def test_zoom_holds_categoricals_at_the_best_choice() -> None:
    space = Space((FloatParam("x", low=0.0, high=1.0), CategoricalParam("c", choices=("a", "b"))))
    s = GridSearcher(space, zoom=1)
    points = drain(s, fn=lambda p: abs(p["x"] - 0.5) + (0 if p["c"] == "b" else 1))
    assert [(p["x"], p["c"]) for p in points[6:]] == [(0.25, "b"), (0.75, "b")]


def test_zoom_centres_on_a_better_hand_trial() -> None:
    space = Space((FloatParam("x", low=0.0, high=1.0),))
    s = GridSearcher(space, zoom=1)
    for _x in (0.0, 0.5, 1.0):
        d = s.ask()
        assert isinstance(d, Suggest)
        s.tell(d.params, 1.0)
    s.tell({"x": 0.9}, 0.0)  # the user found something better by hand
    d = s.ask()
    assert isinstance(d, Suggest) and d.params["x"] == pytest.approx(0.75)


def test_zoom_waits_for_the_rounds_running_trials() -> None:
    # The box centres on the round's best result, so it needs all of them.
    space = Space((FloatParam("x", low=0.0, high=1.0),))
    s = GridSearcher(space, zoom=1)
    first = [s.ask() for _ in range(3)]
    s.tell(first[1].params, 1.0)  # type: ignore[union-attr]
    d = s.ask()
    assert isinstance(d, Wait) and "zoom round 1 waits for 2 running trials" in d.reason
    s.tell(first[0].params, 2.0)  # type: ignore[union-attr]
    assert isinstance(s.ask(), Wait)
    s.tell(first[2].params, 0.0)  # type: ignore[union-attr]
    d = s.ask()
    # Best 1.0 (the last to finish) -> box [.5, 1]: .75 is the only new point.
    assert isinstance(d, Suggest) and d.params["x"] == pytest.approx(0.75)
    assert "zoom round 1" in d.reason


def test_last_round_with_running_trials_is_exhausted_not_waiting() -> None:
    space = Space((FloatParam("x", low=0.0, high=1.0),))
    s = GridSearcher(space)
    for _ in range(3):
        assert isinstance(s.ask(), Suggest)
    d = s.ask()
    assert isinstance(d, Exhausted) and "3 trials still running" in d.reason


def test_options_are_validated() -> None:
    space = Space((FloatParam("x", low=0.0, high=1.0),))
    with pytest.raises(ValueError, match="points_per_dim"):
        GridSearcher(space, points_per_dim=0)
    with pytest.raises(ValueError, match="zoom"):
        GridSearcher(space, zoom=-1)
