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

import numpy as np

from tuitune.insight.importance import Importance, ParamImportance
from tuitune.insight.model import RunModel

BASE_POINTS = 256
CONTINUOUS_GRID = 16
METHOD = "fANOVA of the GP"


def _mean(gp, x: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The posterior mean alone (the variance's triangular solve is not needed)."""
    return gp.kernel(x, gp.x) @ gp.alpha


def main_effects(model: RunModel, n_trials: int) -> Importance | None:
    """Each searched parameter's share of the model's variance; None without a model."""
    if not model.ready:
        return None
    assert model.surrogate is not None
    gp, dims = model.surrogate.gp, model.searcher.dims
    d = len(model.space.dims)
    from scipy.stats import qmc  # slow to import: only when needed

    base = dims.snap(qmc.Sobol(d, scramble=True, seed=0).random(BASE_POINTS))
    total = float(np.var(_mean(gp, base)))
    out = []
    for j, param in enumerate(model.space.dims):
        grid = dims.grids[j]
        values = np.linspace(0.0, 1.0, CONTINUOUS_GRID) if grid is None else grid
        x = np.repeat(base[None, :, :], len(values), axis=0)
        x[:, :, j] = np.asarray(values)[:, None]
        means = _mean(gp, x.reshape(-1, d)).reshape(len(values), -1).mean(axis=1)
        effect = float(np.var(means))
        share = min(effect / total, 1.0) if total > 0 else 0.0
        out.append(ParamImportance(param.name, share, effect, model.n_trials))
    out.sort(key=lambda p: -p.importance)
    return Importance(tuple(out), n_trials, 0, method=METHOD)
