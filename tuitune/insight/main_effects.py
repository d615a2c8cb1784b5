"""Parameter importance as the main effects of the run's own GP (functional ANOVA).

Functional ANOVA (Hooker 2007; Hutter et al., ICML 2014, "fANOVA") splits the
variance of a function over the space into a part per parameter (its main
effect) and parts for interactions. fANOVA applies it to a random forest; here
it is applied to the Gaussian process the Bayesian searcher fits and the slice
view draws (model.py), so the bars and the picture come from one model. The
main effect of parameter j is the variance, over j's values (uniform in its
unit encoding: log scale for log parameters, each choice equally), of the model's
mean averaged over every other parameter; its share is that variance over the
variance of the mean across the whole space. Shares do not sum to 1: the rest
is interactions. Averages are taken over a fixed quasi-random sample of the
space, so the result is deterministic.

Why not PED-ANOVA alone (importance.py): at 30 random trials with 2 of 6
parameters mattering, it ranked the two first in 6 of 10 seeds, this in 10 of 10
(benchmarks/results/insight.md). PED-ANOVA stays, as the quick first answer
while the model is fitted and beside it in `--json`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuitune.insight.importance import Importance, ParamImportance
from tuitune.insight.model import RunModel

BASE_POINTS = 256
#: Points along a continuous parameter: fine enough for the zoom advice's region
#: (advice.py), which is read off these curves.
CONTINUOUS_GRID = 41
METHOD = "fANOVA of the GP"


@dataclass(frozen=True)
class MainEffect:
    """The model's mean averaged over every other parameter, along one parameter.

    Attributes:
        units: the parameter's values in its unit encoding (each choice's cell centre
            for discrete parameters), ascending.
        means: the averaged mean at each, in the searcher's loss scale (lower is better).
    """

    units: np.ndarray
    means: np.ndarray


@dataclass(frozen=True)
class MainEffects:
    """Every searched parameter's curve, the variance of the model's mean over the
    space, the variance of the trials' values it was fitted on (same scale), and
    how well the model predicts each trial from the others (`loo_r2`)."""

    curves: dict[str, MainEffect]
    total_variance: float
    observed_variance: float
    loo_r2: float

    def observed_share(self, name: str) -> float:
        """The share of the trials' variation that `name`'s main effect explains: low
        for every parameter when the values are mostly noise, unlike the shares of the
        model's own variance."""
        if self.observed_variance <= 0 or name not in self.curves:
            return 0.0
        return float(np.var(self.curves[name].means)) / self.observed_variance


class _Mean:
    """The posterior mean alone at unit-cube points (the variance's triangular solve
    is not needed). A space with conditional parameters has its GP over embedded
    inputs (search/conditional.py's OnCube): points are embedded first."""

    def __init__(self, gp) -> None:  # type: ignore[no-untyped-def]
        embedding = getattr(gp, "embedding", None)
        self.gp = gp.gp if embedding is not None else gp
        self.embed = embedding.embed if embedding is not None else None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.embed is not None:
            x = self.embed(x)
        return self.gp.kernel(x, self.gp.x) @ self.gp.alpha


def effect_curves(model: RunModel) -> MainEffects | None:
    """Each searched parameter's main-effect curve; None without a model."""
    if not model.ready:
        return None
    assert model.surrogate is not None
    mean, dims = _Mean(model.surrogate.gp), model.searcher.dims
    d = len(model.space.dims)
    from scipy.stats import qmc  # slow to import: only when needed

    base = dims.snap(qmc.Sobol(d, scramble=True, seed=0).random(BASE_POINTS))
    out = {}
    for j, param in enumerate(model.space.dims):
        grid = dims.grids[j]
        values = np.linspace(0.0, 1.0, CONTINUOUS_GRID) if grid is None else grid
        x = np.repeat(base[None, :, :], len(values), axis=0)
        x[:, :, j] = np.asarray(values)[:, None]
        means = mean(x.reshape(-1, d)).reshape(len(values), -1).mean(axis=1)
        order = np.argsort(np.asarray(values, dtype=float))
        out[param.name] = MainEffect(np.asarray(values, dtype=float)[order], means[order])
    observed = float(np.var(mean.gp.y))
    return MainEffects(out, float(np.var(mean(base))), observed, loo_r2(mean.gp))


def loo_r2(gp) -> float:  # type: ignore[no-untyped-def]
    """Leave-one-out R^2: 1 - the squared errors of predicting each trial from all the
    others, over the trials' variance (closed form for a GP with fixed hyperparameters:
    Rasmussen & Williams 2006, eq. 5.12). Near or below 0 when the model has fitted
    noise; the zoom advice needs it well above."""
    residuals = gp.alpha / np.diag(gp.k_inv)
    spread = float(np.sum((gp.y - gp.y.mean()) ** 2))
    return 1.0 - float(np.sum(residuals**2)) / spread if spread > 0 else 0.0


def main_effects(model: RunModel, n_trials: int,
                 effects: MainEffects | None = None) -> Importance | None:
    """Each searched parameter's share of the model's variance; None without a model.

    Args:
        effects: `effect_curves(model)` when the caller has them already.
    """
    effects = effects if effects is not None else effect_curves(model)
    if effects is None:
        return None
    total = effects.total_variance
    out = []
    for param in model.space.dims:
        effect = float(np.var(effects.curves[param.name].means))
        share = min(effect / total, 1.0) if total > 0 else 0.0
        out.append(ParamImportance(param.name, share, effect, model.n_trials))
    out.sort(key=lambda p: -p.importance)
    return Importance(tuple(out), n_trials, 0, method=METHOD)
