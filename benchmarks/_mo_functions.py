"""Two-objective benchmark problems with their hypervolume reference points."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tuitune.core.space import FloatParam, IntParam, Space


@dataclass(frozen=True)
class MOProblem:
    name: str
    space: Space
    fn: Callable[[Mapping[str, Any]], tuple[float, float]]
    modes: tuple[str, str]
    reference: tuple[float, float]  # in losses (a maximised objective negated)

    def losses(self, values: tuple[float, float]) -> tuple[float, float]:
        a, b = values
        return (a if self.modes[0] == "min" else -a, b if self.modes[1] == "min" else -b)


UNIT4 = Space(tuple(FloatParam(f"x{i}", low=0.0, high=1.0) for i in range(4)))
UNIT2 = Space(tuple(FloatParam(f"x{i}", low=0.0, high=1.0) for i in range(2)))


def _zdt1(p: Mapping[str, Any]) -> tuple[float, float]:
    """ZDT1 (Zitzler, Deb and Thiele 2000) in 4 dimensions; convex front f2 = 1 - sqrt(f1)."""
    xs = [p[f"x{i}"] for i in range(4)]
    f1 = xs[0]
    g = 1.0 + 9.0 * sum(xs[1:]) / 3.0
    return f1, g * (1.0 - math.sqrt(f1 / g))


def _branin_currin(p: Mapping[str, Any]) -> tuple[float, float]:
    """BraninCurrin (as in BoTorch's test problems): Branin on [-5, 10] x [0, 15]
    and Currin's exponential function, both on the unit square."""
    x0, x1 = p["x0"], p["x1"]
    u, v = 15.0 * x0 - 5.0, 15.0 * x1
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    branin = (v - b * u * u + c * u - 6.0) ** 2 + 10.0 * (1 - 1 / (8 * math.pi)) * math.cos(u) + 10
    factor = 1.0 - math.exp(-1.0 / (2.0 * max(x1, 1e-12)))
    currin = factor * (2300 * x0**3 + 1900 * x0**2 + 2092 * x0 + 60) / (
        100 * x0**3 + 500 * x0**2 + 4 * x0 + 20)
    return branin, currin


HPO_SPACE = Space(
    (
        FloatParam("lr", low=1e-5, high=1.0, log=True),
        IntParam("width", low=16, high=1024, log=True),
        IntParam("depth", low=1, high=4),
        IntParam("epochs", low=1, high=50),
    )
)


def _hpo(p: Mapping[str, Any]) -> tuple[float, float]:
    """Accuracy (maximised) against training seconds (minimised): accuracy grows
    with capacity and epochs and wants a learning rate near 3e-3 (wider nets a
    little lower); the cost grows with width x depth x epochs."""
    capacity = math.log2(p["width"]) * p["depth"]
    best_lr = -2.5 - 0.15 * (math.log2(p["width"]) - 6)
    acc = (0.99 - 0.4 * math.exp(-capacity / 10.0) - 0.3 * math.exp(-p["epochs"] / 8.0)
           - 0.12 * (math.log10(p["lr"]) - best_lr) ** 2)
    seconds = 5.0 + 0.5 * p["epochs"] * p["width"] * p["depth"] / 64.0
    return max(acc, 0.1), seconds


MO_PROBLEMS = {
    p.name: p
    for p in (
        MOProblem("zdt1-4d", UNIT4, _zdt1, ("min", "min"), (11.0, 11.0)),
        MOProblem("branin-currin", UNIT2, _branin_currin, ("min", "min"), (18.0, 6.0)),
        MOProblem("hpo-acc-cost", HPO_SPACE, _hpo, ("max", "min"), (-0.1, 1800.0)),
    )
}
