"""Gaussian-process regression for the Bayesian searcher (numpy and scipy only).

Kernel: `scale * Matern52(r) + noise * I` with one length scale per dimension,
r^2 = sum_i w_i * d_i^2 and w_i = 1 / length_scale_i^2. For categorical dimensions
d_i^2 is 1 when the categories differ and 0 otherwise (a Hamming distance), so an
unordered choice is never treated as ordinal.

Hyperparameters are fitted by maximising the log marginal likelihood plus a log
prior (the same heuristic priors as Optuna's GPSampler: they keep length scales
from collapsing on few points) with L-BFGS-B and analytic gradients, from a warm
start, the defaults and a few random restarts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, cholesky, lapack, solve_triangular

SQRT5 = math.sqrt(5.0)
LOG_2PI = math.log(2.0 * math.pi)
#: Bounds on the log hyperparameters; they keep every evaluation finite.
RAW_BOUNDS_W = (-12.0, 12.0)
RAW_BOUNDS_SCALE = (-8.0, 8.0)
RAW_BOUNDS_NOISE = (-25.0, 3.0)


def matern52(d2: np.ndarray) -> np.ndarray:
    """Matérn 5/2 correlation as a function of the squared scaled distance."""
    r = np.sqrt(5.0 * d2)
    return (1.0 + r + r * r / 3.0) * np.exp(-r)


def matern52_inplace(d2: np.ndarray) -> np.ndarray:
    """`matern52`, overwriting `d2` (which must be a float array of its own): the
    candidate set's (m, n) kernel is the largest array of an ask, and each
    temporary of it costs a pass through memory."""
    r = np.multiply(d2, 5.0, out=d2)
    np.sqrt(r, out=r)
    e = np.exp(-r)
    out = np.multiply(r, r, out=np.empty_like(r))
    out *= 1.0 / 3.0
    out += r
    out += 1.0
    out *= e
    return out


def matern52_grad(d2: np.ndarray) -> np.ndarray:
    """Derivative of `matern52` with respect to d2 (finite at d2 = 0)."""
    r = np.sqrt(5.0 * d2)
    return (-5.0 / 6.0) * (1.0 + r) * np.exp(-r)


def matern52_and_grad(d2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both of the above, sharing the square root and the exponential."""
    r = np.sqrt(5.0 * d2)
    e = np.exp(-r)
    return (1.0 + r + r * r / 3.0) * e, (-5.0 / 6.0) * (1.0 + r) * e


def squared_diffs(x1: np.ndarray, x2: np.ndarray, is_cat: np.ndarray) -> np.ndarray:
    """Per-dimension squared differences, shape (n1, n2, d); Hamming for categoricals."""
    sq = (x1[:, None, :] - x2[None, :, :]) ** 2
    if is_cat.any():
        sq[..., is_cat] = (sq[..., is_cat] > 1e-12).astype(float)
    return sq


@dataclass(frozen=True)
class Hyper:
    """Kernel hyperparameters: inverse squared length scales, signal scale, noise."""

    inv_sq_ls: np.ndarray
    scale: float
    noise: float

    @property
    def length_scales(self) -> np.ndarray:
        return 1.0 / np.sqrt(self.inv_sq_ls)


class GaussianProcess:
    """An exact GP posterior for fixed hyperparameters.

    Args:
        x: Training inputs in the unit cube, shape (n, d).
        y: Training targets (already transformed and standardised), shape (n,).
        is_cat: Boolean mask of categorical dimensions, shape (d,).
        hyper: Kernel hyperparameters.
        extra_noise: Per-point variance added to the noise, shape (n,): imputed
            observations are known less well than measured ones (default zeros).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, is_cat: np.ndarray, hyper: Hyper,
                 extra_noise: np.ndarray | None = None) -> None:
        self.x = np.asarray(x, dtype=float)
        self.y = np.asarray(y, dtype=float)
        self.is_cat = np.asarray(is_cat, dtype=bool)
        self.hyper = hyper
        self.extra_noise = (
            np.zeros(len(self.y)) if extra_noise is None else np.asarray(extra_noise, float)
        )
        k = self.kernel(self.x, self.x)
        k[np.diag_indices_from(k)] += hyper.noise + self.extra_noise
        self.chol = _robust_cholesky(k)
        self.alpha = cho_solve((self.chol, True), self.y, check_finite=False)
        self._k_inv: np.ndarray | None = None

    def kernel(self, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
        """Covariance of the latent function between two sets of points (no noise)."""
        k = matern52_inplace(self._sqdist(x1, x2))
        k *= self.hyper.scale
        return k

    def _sqdist(self, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
        # Accumulating per dimension, in place, keeps memory at two (n1, n2) arrays
        # for large candidate sets and avoids a temporary per operation; exact
        # differences (not |a|^2 + |b|^2 - 2ab) keep distances near 0 accurate.
        d2 = np.zeros((x1.shape[0], x2.shape[0]))
        buf = np.empty_like(d2)
        for i, w in enumerate(self.hyper.inv_sq_ls):
            np.subtract.outer(x1[:, i], x2[:, i], out=buf)
            if self.is_cat[i]:
                np.abs(buf, out=buf)
                np.greater(buf, 1e-12, out=buf)
            else:
                np.square(buf, out=buf)
            buf *= w
            d2 += buf
        return d2

    def posterior(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of the latent function at `xq`, shape (m,)."""
        k = self.kernel(xq, self.x)
        mean = k @ self.alpha
        v = solve_triangular(self.chol, k.T, lower=True, check_finite=False)
        var = self.hyper.scale - np.einsum("nm,nm->m", v, v)
        return mean, np.maximum(var, 1e-12 * self.hyper.scale)

    def posterior_grad(
        self, xq: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean, variance and their gradients (m, d) with respect to `xq`.

        Gradients along categorical dimensions are zero: those are searched by
        enumeration, never by gradient.
        """
        h = self.hyper
        diff = xq[:, None, :] - self.x[None, :, :]
        sq = diff * diff
        if self.is_cat.any():
            sq[..., self.is_cat] = (sq[..., self.is_cat] > 1e-12).astype(float)
        m52, dm52 = matern52_and_grad(sq @ h.inv_sq_ls)
        k = h.scale * m52
        dk = h.scale * dm52  # d k / d d2, (m, n)
        mean = k @ self.alpha
        # Triangular solves, not the explicit inverse: with a small noise K is
        # ill-conditioned and k K^-1 k lost the variance's last digits near the
        # data, which made the acquisition's line searches fail (same cost).
        v = solve_triangular(self.chol, k.T, lower=True, check_finite=False)
        var = h.scale - np.einsum("nm,nm->m", v, v)
        beta = solve_triangular(self.chol, v, lower=True, trans="T", check_finite=False).T
        # d d2 / d x_j = 2 w_j diff_j (zero along categorical dimensions).
        scale = 2.0 * h.inv_sq_ls * ~self.is_cat
        dmean = np.einsum("mn,mnd->md", dk * self.alpha, diff) * scale
        dvar = -2.0 * np.einsum("mn,mnd->md", dk * beta, diff) * scale
        floor = 1e-12 * h.scale
        dvar[var <= floor] = 0.0
        return mean, np.maximum(var, floor), dmean, dvar

    @property
    def k_inv(self) -> np.ndarray:
        """(K + noise I)^-1, computed once (the acquisition's gradient needs it)."""
        if self._k_inv is None:
            self._k_inv = inverse_from_cholesky(self.chol)
        return self._k_inv

    def log_marginal_likelihood(self) -> float:
        n = len(self.y)
        return float(
            -0.5 * self.y @ self.alpha - np.log(np.diag(self.chol)).sum() - 0.5 * n * LOG_2PI
        )

    def condition_on(self, x_new: np.ndarray, y_new: np.ndarray,
                     extra_noise: np.ndarray | None = None) -> GaussianProcess:
        """The same model with extra (fantasised or imputed) observations, no refit."""
        added = np.zeros(len(y_new)) if extra_noise is None else np.asarray(extra_noise, float)
        return GaussianProcess(
            np.vstack([self.x, x_new]), np.concatenate([self.y, y_new]), self.is_cat, self.hyper,
            np.concatenate([self.extra_noise, added]),
        )


def inverse_from_cholesky(chol: np.ndarray) -> np.ndarray:
    """A^-1 from A's lower Cholesky factor, by LAPACK's potri: a third of the work
    of solving against the identity (cho_solve), which the hyperparameter fit
    otherwise spends most of its time on."""
    inv, info = lapack.dpotri(chol, lower=1)
    if info != 0:  # singular factor: fall back to the solve (raises if hopeless)
        return cho_solve((chol, True), np.eye(len(chol)), check_finite=False)
    # potri fills one triangle only.
    inv = np.tril(inv)
    inv += np.tril(inv, -1).T
    return inv


def _robust_cholesky(k: np.ndarray) -> np.ndarray:
    """Cholesky factor (lower), adding jitter if the matrix is numerically singular."""
    jitter = 0.0
    base = max(float(np.mean(np.diag(k))), 1e-12)
    for _ in range(6):
        try:
            kj = k if jitter == 0.0 else k + jitter * np.eye(len(k))
            return cholesky(kj, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            jitter = base * (1e-10 if jitter == 0.0 else jitter / base * 100.0)
    raise np.linalg.LinAlgError("kernel matrix is not positive definite")
