"""Synthetic test functions with known optima for the search benchmarks."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuitune.core.space import FloatParam, Space


@dataclass(frozen=True)
class Problem:
    name: str
    space: Space
    fn: Callable[[Mapping[str, Any]], float]
    optimum: float

    def __call__(self, params: Mapping[str, Any]) -> float:
        return self.fn(params)


def _branin(p: Mapping[str, Any]) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann6(p: Mapping[str, Any]) -> float:
    x = np.array([p[f"x{i}"] for i in range(6)])
    inner = np.sum(_H6_A * (x - _H6_P) ** 2, axis=1)
    return float(-np.sum(_H6_ALPHA * np.exp(-inner)))


BRANIN = Problem(
    "branin",
    Space((FloatParam("x1", low=-5.0, high=10.0), FloatParam("x2", low=0.0, high=15.0))),
    _branin,
    0.397887357729738,
)
HARTMANN6 = Problem(
    "hartmann6",
    Space(tuple(FloatParam(f"x{i}", low=0.0, high=1.0) for i in range(6))),
    _hartmann6,
    -3.32236801141551,
)
#: Branin warped to span seven orders of magnitude, like a loss that explodes
#: at a bad learning rate: exercises the output transform.
EXP_BRANIN = Problem(
    "exp-branin",
    BRANIN.space,
    lambda p: math.exp(_branin(p) / 25.0) - 1.0 + 1e-3,
    math.exp(0.397887357729738 / 25.0) - 1.0 + 1e-3,
)
PROBLEMS = {p.name: p for p in (BRANIN, HARTMANN6, EXP_BRANIN)}
