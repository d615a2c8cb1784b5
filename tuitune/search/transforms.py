"""Output transforms applied to losses before the GP sees them.

Losses that span orders of magnitude (a nearly diverged run at 1e3 next to good
runs at 1e-2) would, after standardisation, flatten everything that matters into
one value. A log warp fixes that, but it hurts smooth objectives (measured on
Branin: median regret 2e-3 with logs against 5e-5 without). So the "auto" choice
is made by the data, and only for losses that span at least three orders of
magnitude: the warp whose GP gives the higher marginal likelihood of the
*original* losses (the warped likelihood plus the log-Jacobian), as Box-Cox
chooses its exponent.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TRANSFORMS = ("none", "log")
#: "auto" considers logs only when max / min of the (positive) losses reaches this.
AUTO_MIN_RATIO = 1e3


def transform_losses(y: np.ndarray, how: str) -> np.ndarray:
    """Warp losses: "none" keeps them; "log" takes logs (of losses shifted to start
    at 1% of their range above zero when some are not positive)."""
    y = np.asarray(y, dtype=float)
    if how == "none" or len(y) == 0:
        return y
    return np.log(y + _shift(y))


def log_jacobian(y: np.ndarray, how: str) -> float:
    """Sum of log |d warp / d y| over the losses (0 for "none")."""
    y = np.asarray(y, dtype=float)
    if how == "none" or len(y) == 0:
        return 0.0
    return float(-np.sum(np.log(y + _shift(y))))


def _shift(y: np.ndarray) -> float:
    lo, hi = float(np.min(y)), float(np.max(y))
    return 0.0 if lo > 0.0 else -lo + 0.01 * max(hi - lo, 1e-12)


def fitted_warp(y: np.ndarray, how: str) -> Callable[[np.ndarray], np.ndarray]:
    """The transform-then-standardise map fitted on losses `y`, to apply to other
    losses on the same scale (NaN where a log's argument is not positive).
    `fitted_warp(y, how)(y)` is `standardize(transform_losses(y, how))`."""
    y = np.asarray(y, dtype=float)
    shift = _shift(y) if how != "none" and len(y) else 0.0

    def warp(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        if how == "none":
            return v
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(v + shift > 0.0, np.log(np.maximum(v + shift, 1e-300)), np.nan)

    t = warp(y)
    mean, std = (float(np.mean(t)), float(np.std(t))) if len(t) else (0.0, 1.0)
    return lambda v: (warp(v) - mean) / (std if std > 0.0 else 1.0)


def inverse_warp(fitted: np.ndarray, how: str) -> Callable[[np.ndarray], np.ndarray]:
    """The inverse of `fitted_warp(fitted, how)`: model units back to losses (for
    drawing the model beside the trials, e.g. the insight screen's slice)."""
    y = np.asarray(fitted, dtype=float)
    shift = _shift(y) if how != "none" and len(y) else 0.0
    t = transform_losses(y, how) if len(y) else y
    mean, std = (float(np.mean(t)), float(np.std(t))) if len(t) else (0.0, 1.0)
    std = std if std > 0.0 else 1.0

    def unwarp(z: np.ndarray) -> np.ndarray:
        t = np.asarray(z, dtype=float) * std + mean
        return t if how == "none" else np.exp(t) - shift

    return unwarp


def standardize(y: np.ndarray) -> np.ndarray:
    """Zero mean and unit variance (a constant series becomes zeros)."""
    std = float(np.std(y))
    return (y - float(np.mean(y))) / (std if std > 0.0 else 1.0)


# -- rank (Gaussian copula) transform for failures and heavy tails --------------------


def normal_scores(y: np.ndarray) -> np.ndarray:
    """Ranks mapped to standard normal quantiles, Phi^-1((rank - 1/2) / n): the
    Gaussian copula transform of Salinas et al. (2020, "A quantile-based approach
    for hyperparameter transfer learning"). Non-finite losses (failed or diverged
    trials) tie for the worst rank, so they are the worst values on the model's
    scale, yet only one rank step past the worst finite loss: a failure teaches
    the model where not to go without an extreme value wrecking its fit."""
    from scipy.special import ndtri
    from scipy.stats import rankdata

    y = np.asarray(y, dtype=float)
    if len(y) == 0:
        return y
    ranks = rankdata(np.where(np.isfinite(y), y, np.inf), method="average")
    return ndtri((ranks - 0.5) / len(y))


def rank_warp(y: np.ndarray) -> tuple[Callable[[np.ndarray], np.ndarray],
                                      Callable[[np.ndarray], np.ndarray]]:
    """The standardised normal-score map fitted on losses `y` and its inverse.

    Other losses are placed by interpolating the empirical distribution between
    the fitted finite losses (clamped at the ends; a non-finite loss takes the
    failures' score). `rank_warp(y)[0](y)` is `standardize(normal_scores(y))`.
    """
    y = np.asarray(y, dtype=float)
    z = normal_scores(y)
    mean, std = (float(np.mean(z)), float(np.std(z))) if len(z) else (0.0, 1.0)
    std = std if std > 0.0 else 1.0
    zs = (z - mean) / std
    finite = np.isfinite(y)
    order = np.argsort(y[finite], kind="stable")
    ys, zf = y[finite][order], zs[finite][order]
    fail = float(zs[~finite][0]) if (~finite).any() else float(np.max(zs, initial=0.0))

    def warp(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        if len(ys) == 0:
            return np.full(v.shape, fail)
        out = np.interp(np.where(np.isfinite(v), v, ys[-1]), ys, zf)
        return np.where(np.isfinite(v), out, fail)

    def unwarp(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        if len(ys) == 0:
            return np.full(t.shape, np.nan)
        return np.interp(t, zf, ys)

    return warp, unwarp
