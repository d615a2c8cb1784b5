"""Synthetic histories for the insight tests and benchmark: known answers."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tuitune.core.history import History, Objective, TrialView
from tuitune.core.space import CategoricalParam, FloatParam, IntParam, Pow2Param, Space

SPACE = Space((
    FloatParam("lr", low=1e-5, high=1.0, log=True, mutable=True),
    FloatParam("dropout", low=0.0, high=0.8),
    IntParam("layers", low=1, high=8),
    Pow2Param("batch", low=16, high=512),
    FloatParam("wd", low=1e-6, high=1e-2, log=True),
    CategoricalParam("opt", choices=("adam", "sgd", "rmsprop")),
))


def two_that_matter(space: Space, names: tuple[str, str], centers: tuple[float, float],
                    noise: float, rng: np.random.Generator) -> Callable[[Mapping[str, Any]], float]:
    """A loss that depends on two parameters only: a quadratic bowl in each one's
    unit encoding (a wrong choice costs as much for a categorical), plus noise."""

    def loss(params: Mapping[str, Any]) -> float:
        total = 0.0
        for name, c in zip(names, centers, strict=True):
            p = space[name]
            if isinstance(p, CategoricalParam):
                total += 0.0 if params[name] == p.choices[int(c * len(p.choices))] else 0.6
            else:
                total += 4.0 * (p.to_unit(params[name]) - c) ** 2
        return total + float(rng.normal(0.0, noise))

    return loss


def random_history(space: Space, loss: Callable[[Mapping[str, Any]], float], n: int,
                   rng: np.random.Generator, origin: str = "random") -> History:
    trials = []
    for i in range(n):
        params = space.sample(rng)
        value = loss(params)
        trials.append(view(i + 1, params, value, origin=origin))
    return History(Objective("loss"), tuple(trials))


def view(trial_id: int, params: Mapping[str, Any], value: float, origin: str = "random",
         state: str = "completed", steps: int = 1) -> TrialView:
    curve = tuple((s, value) for s in range(1, steps + 1)) if math.isfinite(value) else (
        (1, value),)
    return TrialView(id=trial_id, state=state, params=dict(params), origin=origin,
                     curve=curve, value=value if math.isfinite(value) else None)
