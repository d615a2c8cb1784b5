"""The slice view's model: the run's own Gaussian process along one parameter.

The model is the Bayesian searcher's (search/bayes.py: same kernel, fit, output
transform and common-fidelity handling of pruned trials), fitted on the run's
history whatever strategy the run uses. The line goes through the incumbent
(the observed configuration with the lowest posterior mean), every other
parameter held at the incumbent's value, as in the seed article's picture of
Bayesian optimisation: mean, a ±2σ band, and expected improvement below it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuitune.core.history import History
from tuitune.search.acquisition import LogEI
from tuitune.search.bayes import BayesSearcher
from tuitune.core.space import CategoricalParam, Space

#: Above this many finished trials the model is fit on the best third and an even
#: sample of the rest (an exact GP costs n^3; the picture needs the shape only).
MAX_MODEL_TRIALS = 200
LINE_POINTS = 61


@dataclass(frozen=True)
class ModelSlice:
    """The model along one parameter; x values are the parameter's own values.

    Attributes:
        values: the parameter values along the line (categories for categoricals).
        units: the same in the unit encoding (what the x axis is drawn in).
        mean, low, high: objective values of the posterior mean and the ±2σ band.
        ei: expected improvement along the line, as a share of its maximum (0..1).
        log_ei: the acquisition's own value (log expected improvement).
        incumbent: the configuration the line goes through.
    """

    param: str
    values: tuple[Any, ...]
    units: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    ei: np.ndarray
    log_ei: np.ndarray
    incumbent: dict[str, Any]
    n_trials: int


def model_history(history: History, limit: int = MAX_MODEL_TRIALS) -> History:
    """The history to fit on: all of it up to `limit` finished trials, else the best
    third of them plus an even spread of the others (deterministic)."""
    finished = [t for t in history.trials if t.is_finished]
    if len(finished) <= limit:
        return history
    ok = [t for t in finished if t.value is not None and math.isfinite(t.value)]
    ok.sort(key=lambda t: history.objective.to_loss(t.value))  # type: ignore[arg-type]
    keep = ok[: limit // 3]
    kept = {t.id for t in keep}  # by id: comparing views compares their curves
    rest = [t for t in finished if t.id not in kept]
    step = len(rest) / (limit - len(keep))
    keep += [rest[int(i * step)] for i in range(limit - len(keep))]
    return History(objective=history.objective, trials=tuple(keep), now=history.now,
                   max_steps=history.max_steps)


class RunModel:
    """The searcher's model fitted once on a history, sliced along any parameter."""

    def __init__(self, space: Space, history: History, seed: int = 0) -> None:
        self.space = space
        self.mode = history.objective.mode
        self.searcher = BayesSearcher(space, seed=seed, mode=self.mode)
        fitted = model_history(history)
        self.searcher.sync(fitted)
        self.n_trials = len(self.searcher.observations)
        self.surrogate = self.searcher.surrogate() if space.dims else None
        self.incumbent = self.searcher.incumbent() if self.surrogate else None

    @property
    def ready(self) -> bool:
        return self.surrogate is not None and self.incumbent is not None

    def slice(self, name: str) -> ModelSlice | None:
        """The model along parameter `name` through the incumbent (None without a model)."""
        if not self.ready or name not in self.space or self.space[name] not in self.space.dims:
            return None
        assert self.surrogate is not None and self.incumbent is not None
        j = [p.name for p in self.space.dims].index(name)
        param = self.space.dims[j]
        base = self.searcher.encode(self.incumbent)
        if base is None:
            return None
        if param.discrete and self.searcher.dims.grids[j] is not None:
            units = np.asarray(self.searcher.dims.grids[j], dtype=float)
        else:
            units = np.linspace(0.0, 1.0, LINE_POINTS)
        xq = np.repeat(base[None, :], len(units), axis=0)
        xq[:, j] = units
        gp = self.surrogate.gp
        mean, var = gp.posterior(xq)
        sd = np.sqrt(var)
        log_ei = LogEI(gp, self.surrogate.threshold)(xq)
        ei = np.exp(log_ei - np.max(log_ei))
        to_obj = self._to_objective
        lo, hi = to_obj(mean - 2 * sd), to_obj(mean + 2 * sd)
        values = tuple(param.from_unit(float(u)) for u in units)
        if isinstance(param, CategoricalParam):
            values = tuple(param.choices)
        return ModelSlice(name, values, units, to_obj(mean), np.minimum(lo, hi),
                          np.maximum(lo, hi), ei, log_ei, dict(self.incumbent), self.n_trials)

    def _to_objective(self, z: np.ndarray) -> np.ndarray:
        assert self.surrogate is not None
        loss = self.surrogate.to_loss(z)
        return loss if self.mode == "min" else -loss
