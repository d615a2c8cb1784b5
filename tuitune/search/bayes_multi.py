"""The Bayesian searcher with several objectives or with constraints.

Every further objective and every constraint gets a GP of its own (`OutputModel`,
fit on the same inputs; pending trials enter each as kriging-believer fantasies).
The acquisition is a product on the log scale (multi_acq.py):

- one objective: log expected improvement over the best posterior mean among the
  feasible results, times each constraint's probability of feasibility (Gardner
  et al. 2014, as Optuna's GPSampler); with no feasible result yet, the
  probability of feasibility alone, so the search first looks for one;
- two objectives: the expected hypervolume improvement (closed form) over the
  front of the feasible results' posterior means, times the feasibility;
- three or more: ParEGO (Knowles 2006): each ask draws weights on the simplex
  and fits one GP to the augmented Chebyshev scalarisation of the objectives
  (each scaled to [0, 1] over the results), then expected improvement, times the
  feasibility.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tuitune.core.pareto import pareto_mask
from tuitune.search.acquisition import LogEI
from tuitune.search.base import Observation
from tuitune.search.gp import GaussianProcess
from tuitune.search.multi_acq import Acquisition, LogEHVI2, LogFeasibility, SumOfLogs
from tuitune.search.outputs import OutputModel

#: ParEGO's augmentation weight (Knowles 2006).
PAREGO_RHO = 0.05
#: The hypervolume's reference point lies this fraction of the range past the worst.
REFERENCE_MARGIN = 0.1


class ExtraOutputs:
    """The GPs of the further objectives and the constraints, kept across asks
    (each warm-starts its next fit from its last one)."""

    def __init__(self, is_cat: np.ndarray, n_objectives: int, min_noise: float,
                 seed: int, transform: str) -> None:
        self.is_cat, self.min_noise, self.seed = is_cat, min_noise, seed
        self.objectives = [OutputModel(is_cat, transform, min_noise, seed + 101 * k)
                           for k in range(1, n_objectives)]
        self.scalarised = OutputModel(is_cat, transform, min_noise, seed + 7)
        self.constraints: list[OutputModel] = []

    def _constraint_model(self, k: int) -> OutputModel:
        while len(self.constraints) <= k:  # violations may be negative: no log warp
            self.constraints.append(OutputModel(self.is_cat, "none", self.min_noise,
                                                self.seed + 31 * (len(self.constraints) + 1)))
        return self.constraints[k]

    def feasibility(self, x: np.ndarray, rows: Sequence[Observation], pending: np.ndarray,
                    on_cube: Callable[[GaussianProcess], Any]) -> list[Acquisition]:
        """log P(feasible) per constraint with at least two known values."""
        parts: list[Acquisition] = []
        n_con = max((len(o.violations) for o in rows), default=0)
        for k in range(n_con):
            c = np.array([o.violations[k] if k < len(o.violations) else np.nan for o in rows])
            known = np.isfinite(c)
            if known.sum() < 2:
                continue
            model = self._constraint_model(k)
            gp, _ = model.fit(x[known], c[known])
            parts.append(LogFeasibility(on_cube(believe(gp, pending)),
                                        float(model.warp(np.zeros(1))[0])))
        return parts

    def acquisition(self, x: np.ndarray, rows: Sequence[Observation], gp0: GaussianProcess,
                    pending: np.ndarray, rng: np.random.Generator,
                    on_cube: Callable[[GaussianProcess], Any] = lambda gp: gp) -> Acquisition:
        """The acquisition for the model `gp0` of the first objective (fit on the
        model inputs `x` of `rows`; fantasies at `pending` already included).
        `on_cube` turns a GP over the model's inputs into one over the unit cube,
        where the acquisition is optimised (conditional spaces add indicators)."""
        feasible = np.array([o.feasible for o in rows], dtype=bool)
        parts = self.feasibility(x, rows, pending, on_cube)
        n_obj = len(self.objectives) + 1
        if n_obj == 2:
            model = self.objectives[0]
            gp2, _ = model.fit(x, np.array([o.all_losses[1] for o in rows]))
            gp2 = believe(gp2, pending)
            means = np.column_stack([gp0.posterior(x)[0], gp2.posterior(x)[0]])
            lo, hi = means.min(axis=0), means.max(axis=0)
            ref = hi + REFERENCE_MARGIN * np.maximum(hi - lo, 1e-6)
            front = means[feasible][pareto_mask(means[feasible])] if feasible.any() else means[:0]
            parts.insert(0, LogEHVI2(on_cube(gp0), on_cube(gp2), front, ref))
        else:
            gp = gp0 if n_obj == 1 else self._parego(x, rows, pending, rng)
            if feasible.any():
                parts.insert(0, LogEI(on_cube(gp), float(np.min(gp.posterior(x[feasible])[0]))))
            elif not parts:  # nothing feasible and nothing known about why
                parts.insert(0, LogEI(on_cube(gp), float(np.min(gp.posterior(x)[0]))))
        return parts[0] if len(parts) == 1 else SumOfLogs(parts)

    def _parego(self, x: np.ndarray, rows: Sequence[Observation], pending: np.ndarray,
                rng: np.random.Generator) -> GaussianProcess:
        y = np.array([o.all_losses for o in rows], dtype=float)
        lo, hi = np.nanmin(y, axis=0), np.nanmax(y, axis=0)
        scaled = (y - lo) / np.where(hi > lo, hi - lo, 1.0)
        weights = rng.dirichlet(np.ones(y.shape[1]))
        s = np.max(weights * scaled, axis=1) + PAREGO_RHO * np.sum(weights * scaled, axis=1)
        gp, _ = self.scalarised.fit(x, s)  # a failure (NaN) stays NaN: ranked worst
        return believe(gp, pending)


def believe(gp: GaussianProcess, pending: np.ndarray) -> GaussianProcess:
    """The GP with kriging-believer fantasies at the pending points."""
    if len(pending) == 0:
        return gp
    return gp.condition_on(pending, gp.posterior(pending)[0])
