"""Unit-cube encodings of tuitune.core.space: exact rules and round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuitune.core.space import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    MomentumParam,
    Pow2Param,
    Space,
    SpaceError,
)


def test_float_linear_and_log_round_trip() -> None:
    lin = FloatParam("x", low=-5.0, high=10.0)
    log = FloatParam("lr", low=1e-5, high=1.0, log=True)
    for u in np.linspace(0, 1, 11):
        assert lin.to_unit(lin.from_unit(u)) == pytest.approx(u, abs=1e-12)
        assert log.to_unit(log.from_unit(u)) == pytest.approx(u, abs=1e-12)
    assert log.from_unit(0.5) == pytest.approx(math.sqrt(1e-5))
    assert lin.from_unit(0.0) == -5.0 and lin.from_unit(1.0) == 10.0


def test_int_cells_have_equal_width() -> None:
    p = IntParam("n", low=1, high=4)
    assert [p.from_unit(u) for u in (0.0, 0.24, 0.26, 0.49, 0.51, 0.74, 0.76, 1.0)] == [
        1,
        1,
        2,
        2,
        3,
        3,
        4,
        4,
    ]
    for v in p.values():
        assert p.from_unit(p.to_unit(v)) == v
    assert p.to_unit(1) == pytest.approx(0.125)


def test_int_log_round_trip() -> None:
    p = IntParam("units", low=8, high=512, log=True)
    for v in p.values():
        assert p.from_unit(p.to_unit(v)) == v


def test_pow2_values_and_round_trip() -> None:
    p = Pow2Param("batch", low=16, high=256)
    assert p.values() == [16, 32, 64, 128, 256]
    for v in p.values():
        assert p.from_unit(p.to_unit(v)) == v
    assert p.from_unit(0.5) == 64
    with pytest.raises(SpaceError):
        p.validate(48)


def test_momentum_is_log_scaled_distance_to_one() -> None:
    p = MomentumParam("beta", low=0.9, high=0.999)
    assert p.from_unit(0.0) == pytest.approx(0.9)
    assert p.from_unit(0.5) == pytest.approx(0.99)
    assert p.from_unit(1.0) == pytest.approx(0.999)
    for v in (0.9, 0.95, 0.99, 0.995, 0.999):
        assert p.from_unit(p.to_unit(v)) == pytest.approx(v, rel=1e-12)


def test_categorical_cells_round_trip() -> None:
    p = CategoricalParam("opt", choices=("sgd", "adam", "rmsprop"))
    assert [p.to_unit(c) for c in p.choices] == pytest.approx([1 / 6, 0.5, 5 / 6])
    for c in p.choices:
        assert p.from_unit(p.to_unit(c)) == c
    assert p.from_unit(1.0) == "rmsprop"


def test_space_encode_decode_skips_fixed_params() -> None:
    space = Space(
        (
            FloatParam("lr", low=1e-4, high=1e-1, log=True),
            FixedParam("epochs", value=5),
            CategoricalParam("act", choices=("relu", "tanh")),
            Pow2Param("batch", low=8, high=128),
        )
    )
    assert [p.name for p in space.dims] == ["lr", "act", "batch"]
    assert space.categorical_dims == [1]
    values = {"lr": 1e-3, "epochs": 5, "act": "tanh", "batch": 32}
    u = space.encode(values)
    assert u.shape == (3,)
    back = space.decode(u)
    assert back["epochs"] == 5 and back["act"] == "tanh" and back["batch"] == 32
    assert back["lr"] == pytest.approx(1e-3)
    assert space.key(back) == space.key(values)


def test_sample_respects_types_and_bounds() -> None:
    space = Space(
        (
            FloatParam("lr", low=1e-5, high=1.0, log=True),
            IntParam("layers", low=1, high=4),
            MomentumParam("m", low=0.8, high=0.999),
        )
    )
    rng = np.random.default_rng(0)
    lrs = []
    for _ in range(500):
        s = space.validate(space.sample(rng))
        assert isinstance(s["layers"], int)
        lrs.append(s["lr"])
    # Log-uniform: about half the draws below the geometric midpoint.
    assert 0.4 < np.mean(np.array(lrs) < math.sqrt(1e-5)) < 0.6
