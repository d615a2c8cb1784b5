"""Parameter importance by PED-ANOVA (Watanabe et al., IJCAI 2023).

PED-ANOVA measures, for each parameter alone, how far the distribution of its
values among the best trials (the top `target_quantile`) departs from their
distribution over all trials: the Pearson divergence between two Parzen
estimates, computed on a grid in the parameter's unit encoding (so log
parameters are compared on their log scale). The paper shows it equals the
fraction of the objective's variance in the top region that the parameter
explains, up to a constant, in closed form: cost O(n) per parameter, no model
fit, which keeps it cheap at thousands of trials. Optuna's default evaluator
since 4.x is the same method; this is our own numpy version of the paper.

Trials that were stopped early or diverged are never in the top set but stay
in the region it is compared against (see points.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tuitune.core.space import CategoricalParam, Param, Space

from tuitune.insight.points import TrialPoint, top_fraction

#: Below this many trials with a value the ranking is noise; we say so instead.
MIN_TRIALS = 10
#: The top set: the best fifth (Optuna uses a tenth; at 30 trials a fifth ranked the
#: relevant parameters first more often, see benchmarks/results/insight.md), and
#: never fewer than MIN_TOP trials (a 3-point density is a guess).
TARGET_QUANTILE = 0.2
MIN_TOP = 5
GRID = 50


@dataclass(frozen=True)
class ParamImportance:
    name: str
    importance: float  # share of the variation it explains
    raw: float  # the method's own measure (PED-ANOVA: the Pearson divergence)
    n_trials: int  # trials whose value for this parameter could be placed


@dataclass(frozen=True)
class Importance:
    """Importances, highest first; `note` says why there are none (too few trials)."""

    params: tuple[ParamImportance, ...]
    n_trials: int
    n_top: int  # trials in PED-ANOVA's top set (0 for other methods)
    note: str = ""
    method: str = "PED-ANOVA"

    def get(self, name: str) -> ParamImportance | None:
        return next((p for p in self.params if p.name == name), None)


def ped_anova(points: list[TrialPoint], space: Space,
              target_quantile: float = TARGET_QUANTILE) -> Importance:
    """Rank the searched parameters of `space` by PED-ANOVA over `points`."""
    n_valued = sum(math.isfinite(p.loss) for p in points)
    if n_valued < MIN_TRIALS:
        return Importance((), n_valued, 0, f"importance needs at least {MIN_TRIALS} finished "
                          f"trials with a value; this run has {n_valued}")
    top = top_fraction(points, target_quantile, MIN_TOP)
    raws = []
    for param in space.dims:
        region_u = _units(param, points)
        top_u = _units(param, top)
        raws.append((param.name, _divergence(param, top_u, region_u), len(region_u)))
    total = sum(r for _, r, _ in raws)
    out = [ParamImportance(name, raw / total if total > 0 else 0.0, raw, n)
           for name, raw, n in raws]
    out.sort(key=lambda p: -p.importance)
    return Importance(tuple(out), n_valued, len(top))


def _units(param: Param, points: list[TrialPoint]) -> np.ndarray:
    """Unit encodings of the trials' values; values outside the space are left out
    (a hand trial or an earlier space revision can lie outside it)."""
    out = []
    for p in points:
        try:
            u = param.to_unit(p.params[param.name])
        except (KeyError, ValueError, TypeError):
            continue
        if isinstance(u, float) and 0.0 <= u <= 1.0:
            out.append(u)
    return np.array(out, dtype=float)


def _divergence(param: Param, top: np.ndarray, region: np.ndarray) -> float:
    """Pearson divergence of the top density from the region density on a grid."""
    if len(top) == 0 or len(region) == 0:
        return 0.0
    grid, cell = _grid(param)
    p = parzen(top, grid, cell, param) + 1e-12
    q = parzen(region, grid, cell, param) + 1e-12
    return float(q @ ((p / q - 1.0) ** 2) / q.sum())


def _grid(param: Param) -> tuple[np.ndarray, float]:
    """Evaluation points and the width of one value's cell (0 for continuous)."""
    values = getattr(param, "values", None)
    if isinstance(param, CategoricalParam) or (param.discrete and callable(values)):
        units = sorted({param.to_unit(v) for v in values()})  # type: ignore[misc]
        if len(units) <= GRID:
            return np.array(units), 1.0 / len(units)
    return np.linspace(0.0, 1.0, GRID), 0.0


def parzen(u: np.ndarray, grid: np.ndarray, cell: float, param: Param) -> np.ndarray:
    """A normalised Parzen density (on the grid) of `u`, with a uniform prior worth
    one observation, as Optuna's estimator has, so a few points never make a spike."""
    prior = np.full(len(grid), 1.0 / len(grid))
    if isinstance(param, CategoricalParam):
        counts = np.array([np.sum(np.abs(u - g) < 1e-9) for g in grid], dtype=float)
        dens = counts / max(len(u), 1)
    else:
        h = _bandwidth(u, cell)
        k = np.exp(-0.5 * ((grid[:, None] - u[None, :]) / h) ** 2).sum(axis=1)
        dens = k / k.sum() if k.sum() > 0 else prior
    n = len(u)
    return (n * dens + prior) / (n + 1)


def _bandwidth(u: np.ndarray, cell: float) -> float:
    """Scott's rule with the IQR guard, never below half a cell or 1/GRID."""
    n = len(u)
    spread = float(np.std(u)) if n > 1 else 1.0
    q75, q25 = (np.percentile(u, [75, 25]) if n > 1 else (1.0, 0.0))
    iqr = float(q75 - q25) / 1.34
    if iqr > 0:
        spread = min(spread, iqr)
    return max(1.059 * spread * n ** -0.2, 0.5 * cell, 1.0 / GRID)
