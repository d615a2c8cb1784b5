"""Fitting GP hyperparameters by maximum a posteriori marginal likelihood.

Raw parameters (what L-BFGS-B moves) are logs: log w_i (inverse squared length
scales), log scale, and log(noise - min_noise) so the noise never falls below its
floor. Priors follow Optuna's GPSampler: -(0.1 / w + 0.1 w) per dimension, a
Gamma(2, 1) on the scale and a Gamma(1.1, 30) on the noise (which favours small
noise but lets a noisy objective raise it).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import cho_solve, cholesky
from scipy.optimize import minimize

from tuitune.search.gp import (
    LOG_2PI,
    RAW_BOUNDS_NOISE,
    RAW_BOUNDS_SCALE,
    RAW_BOUNDS_W,
    GaussianProcess,
    Hyper,
    inverse_from_cholesky,
    matern52_and_grad,
    squared_diffs,
)


def to_raw(hyper: Hyper, min_noise: float) -> np.ndarray:
    noise_raw = math.log(max(hyper.noise - min_noise, 1e-12))
    raw = np.concatenate([np.log(hyper.inv_sq_ls), [math.log(hyper.scale), noise_raw]])
    return _clip_raw(raw, min_noise)


def from_raw(raw: np.ndarray, min_noise: float, deterministic: bool) -> Hyper:
    d = len(raw) - 2
    noise = min_noise if deterministic else math.exp(raw[d + 1]) + min_noise
    return Hyper(np.exp(raw[:d]), math.exp(raw[d]), noise)


def _bounds(d: int, min_noise: float) -> list[tuple[float, float]]:
    # The noise above its floor stops at 2% of the floor: below that the model
    # cannot tell it apart, and on exact objectives L-BFGS-B spent a fifth of the
    # fit walking log(noise - floor) down a flat slope to -25 (measured on the
    # conditional benchmark at 200 results).
    noise_lo = max(RAW_BOUNDS_NOISE[0], math.log(min_noise) - 4.0)
    return [RAW_BOUNDS_W] * d + [RAW_BOUNDS_SCALE, (noise_lo, RAW_BOUNDS_NOISE[1])]


def _clip_raw(raw: np.ndarray, min_noise: float) -> np.ndarray:
    lo, hi = np.array(_bounds(len(raw) - 2, min_noise)).T
    return np.clip(raw, lo, hi)


def default_hyper(d: int, min_noise: float) -> Hyper:
    """Unit length scales and scale, and unit noise, as Optuna starts."""
    return Hyper(np.ones(d), 1.0, 1.0 + min_noise)


def neg_log_posterior(
    raw: np.ndarray, sq: np.ndarray, y: np.ndarray, min_noise: float, deterministic: bool
) -> tuple[float, np.ndarray]:
    """Negative (log marginal likelihood + log prior) and its gradient in raw space.

    Args:
        raw: Raw (log) hyperparameters, shape (d + 2,).
        sq: Per-dimension squared differences of the training inputs, (n, n, d).
        y: Standardised targets, shape (n,).
    """
    n, _, d = sq.shape
    hyper = from_raw(raw, min_noise, deterministic)
    w, s, noise = hyper.inv_sq_ls, hyper.scale, hyper.noise
    m, dm = matern52_and_grad((sq.reshape(-1, d) @ w).reshape(n, n))
    k = s * m
    k[np.diag_indices(n)] += noise
    try:
        chol = cholesky(k, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return 1e25, np.zeros_like(raw)
    alpha = cho_solve((chol, True), y, check_finite=False)
    lml = -0.5 * y @ alpha - np.log(np.diag(chol)).sum() - 0.5 * n * LOG_2PI
    # d lml / d theta = 0.5 * tr(W dK/dtheta) with W = alpha alpha^T - K^-1.
    wmat = np.outer(alpha, alpha)
    wmat -= inverse_from_cholesky(chol)
    g = wmat * (s * dm)
    grad = np.empty_like(raw)
    grad[:d] = 0.5 * w * (g.reshape(-1) @ sq.reshape(-1, d))
    grad[d] = 0.5 * np.sum(wmat * s * m)
    grad[d + 1] = 0.0 if deterministic else 0.5 * np.trace(wmat) * (noise - min_noise)
    prior, prior_grad = _log_prior(w, s, noise, min_noise, deterministic)
    return -(lml + prior), -(grad + prior_grad)


def _log_prior(
    w: np.ndarray, s: float, noise: float, min_noise: float, deterministic: bool
) -> tuple[float, np.ndarray]:
    value = -np.sum(0.1 / w + 0.1 * w) + (math.log(s) - s)
    grad = np.concatenate([0.1 / w - 0.1 * w, [1.0 - s, 0.0]])
    if not deterministic:
        value += 0.1 * math.log(noise) - 30.0 * noise
        grad[-1] = (0.1 / noise - 30.0) * (noise - min_noise)
    return float(value), grad


def fit_gp(
    x: np.ndarray,
    y: np.ndarray,
    is_cat: np.ndarray,
    *,
    min_noise: float,
    deterministic: bool = False,
    warm: Hyper | None = None,
    rng: np.random.Generator | None = None,
    n_random: int = 1,
) -> GaussianProcess:
    """Fit hyperparameters from a warm start (or the defaults) and `n_random` random starts.

    The best optimum (lowest negative log posterior) wins; if every start fails,
    the default hyperparameters are used (the model is still usable).
    """
    d = x.shape[1]
    sq = squared_diffs(x, x, is_cat)
    if warm is None or len(warm.inv_sq_ls) != d:
        warm = default_hyper(d, min_noise)
    starts = [to_raw(warm, min_noise)]
    rng = rng or np.random.default_rng(0)
    for _ in range(n_random):
        starts.append(
            _clip_raw(
                np.concatenate(
                    [
                        rng.normal(0.0, 1.5, d),
                        [rng.normal(0.0, 0.5), math.log(rng.uniform(1e-4, 0.1))],
                    ]
                ),
                min_noise,
            )
        )
    best_raw, best_f = starts[0], math.inf
    for raw0 in starts:
        res = minimize(
            neg_log_posterior,
            raw0,
            args=(sq, y, min_noise, deterministic),
            jac=True,
            method="L-BFGS-B",
            bounds=_bounds(d, min_noise),
            options={"gtol": 1e-2, "maxiter": 200},
        )
        if np.isfinite(res.fun) and res.fun < best_f:
            best_raw, best_f = res.x, float(res.fun)
    if not math.isfinite(best_f):
        best_raw = to_raw(default_hyper(d, min_noise), min_noise)
    return GaussianProcess(x, y, is_cat, from_raw(best_raw, min_noise, deterministic))
