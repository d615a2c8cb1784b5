"""Log expected improvement and its optimisation over a mixed space.

The acquisition is maximised over a scrambled Sobol candidate set (discrete
dimensions snapped to their values), then refined from the best candidates with
L-BFGS-B on the continuous dimensions and exact line searches over the values of
each discrete dimension, alternately. Discrete values are never reached by
rounding a continuous optimum, which would land on already-evaluated points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.optimize import minimize
from scipy.special import erfcx, log_ndtr, ndtr

from tuitune.search.gp import GaussianProcess

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_HALF_LOG_HALF_PI = 0.5 * math.log(0.5 * math.pi)
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: Below this z the asymptotic form of log h is exact to double precision.
_Z_ASYMPTOTIC = -1.0 / math.sqrt(np.finfo(float).eps)


def log_h(z: np.ndarray) -> np.ndarray:
    """log(z * Phi(z) + phi(z)), stable for every z (Ament et al. 2023, eq. 9).

    For z > -1 the direct formula is accurate; below it the erfcx form avoids the
    cancellation between the two terms, and far below it the asymptote
    -z^2/2 - log(sqrt(2 pi)) - 2 log|z| takes over.
    """
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    hi = z > -1.0
    zh = z[hi]
    out[hi] = np.log(zh * ndtr(zh) + np.exp(-0.5 * zh * zh) * _INV_SQRT_2PI)
    mid = (~hi) & (z > _Z_ASYMPTOTIC)
    zm = z[mid]
    inner = np.log(erfcx(-_SQRT_HALF * zm) * np.abs(zm)) + _HALF_LOG_HALF_PI
    out[mid] = -0.5 * zm * zm - _LOG_SQRT_2PI + _log1mexp(inner)
    lo = ~(hi | mid)
    zl = z[lo]
    out[lo] = -0.5 * zl * zl - _LOG_SQRT_2PI - 2.0 * np.log(np.abs(zl))
    return out


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x < 0, accurate near 0 and far below it."""
    return np.where(x > -math.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def dlog_h(z: np.ndarray, logh: np.ndarray) -> np.ndarray:
    """d log h / dz = Phi(z) / h(z), computed in log space (about |z| for z << 0)."""
    return np.exp(log_ndtr(z) - logh)


class Acquisition(Protocol):
    """What `optimize_acquisition` maximises: values (m,) and gradients (m, d)."""

    def __call__(self, x: np.ndarray) -> np.ndarray: ...

    def value_and_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class LogEI:
    """log E[max(threshold - f(x), 0)] for a minimised GP posterior f.

    Args:
        gp: The posterior (fantasies for pending trials already included).
        threshold: The incumbent level to improve on (standardised units).
    """

    def __init__(self, gp: GaussianProcess, threshold: float) -> None:
        self.gp = gp
        self.threshold = float(threshold)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        mean, var = self.gp.posterior(x)
        sigma = np.sqrt(var)
        return np.log(sigma) + log_h((self.threshold - mean) / sigma)

    def value_and_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values (m,) and gradients (m, d) with respect to x."""
        mean, var, dmean, dvar = self.gp.posterior_grad(x)
        sigma = np.sqrt(var)
        z = (self.threshold - mean) / sigma
        lh = log_h(z)
        dsigma = dvar / (2.0 * sigma[:, None])
        dz = (-dmean - z[:, None] * dsigma) / sigma[:, None]
        grad = dsigma / sigma[:, None] + dlog_h(z, lh)[:, None] * dz
        return np.log(sigma) + lh, grad


@dataclass(frozen=True)
class MixedDims:
    """How the acquisition optimiser treats each unit-cube dimension.

    Attributes:
        is_cat: Categorical dimensions (Hamming kernel, enumerated).
        grids: For each discrete dimension searched by enumeration, the unit
            encodings of its values; None for dimensions moved by gradient.
    """

    is_cat: np.ndarray
    grids: tuple[np.ndarray | None, ...]

    @property
    def continuous(self) -> np.ndarray:
        return np.array([g is None for g in self.grids], dtype=bool)

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Move discrete coordinates to the nearest encoded value."""
        out = u.copy()
        for j, grid in enumerate(self.grids):
            if grid is not None:
                idx = np.abs(out[:, j, None] - grid[None, :]).argmin(axis=1)
                out[:, j] = grid[idx]
        return out


def optimize_acquisition(
    acq: Acquisition,
    dims: MixedDims,
    candidates: np.ndarray,
    starts: np.ndarray,
    restarts: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise the acquisition; returns points and values, best first.

    Args:
        candidates: Quasi-random points in the unit cube (snapped here).
        starts: Extra local-search starts (e.g. the incumbent), shape (k, d).
        restarts: Number of local searches, including the best candidate.
    """
    cand = dims.snap(candidates)
    values = acq(cand)
    chosen = [int(np.argmax(values))]
    n_more = max(restarts - 1 - len(starts), 0)
    if n_more:
        # Roulette selection on exp(log EI) spreads starts over several basins.
        p = np.exp(values - values.max())
        p[chosen[0]] = 0.0
        n_more = min(n_more, int(np.count_nonzero(p > 0)))
        if n_more:
            chosen += list(rng.choice(len(cand), n_more, replace=False, p=p / p.sum()))
    x0 = np.vstack([cand[chosen], dims.snap(starts)]) if len(starts) else cand[chosen]
    xs, fs = local_search(acq, dims, x0)
    all_x = np.vstack([xs, cand])
    all_f = np.concatenate([fs, values])
    order = np.argsort(-all_f, kind="stable")
    return all_x[order], all_f[order]


def local_search(
    acq: Acquisition, dims: MixedDims, x0: np.ndarray, rounds: int = 3, polish: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Alternate gradient steps on continuous dimensions and discrete line searches.

    All starts first climb together; then the `polish` best climb again on their
    own with tight tolerances, where the suggestion's precision is decided.
    """
    x = x0.copy()
    cont = dims.continuous
    for _ in range(rounds):
        if cont.any():
            x = _lbfgs_joint(acq, x, cont)
        x, changed = _discrete_sweep(acq, dims, x)
        if not changed:
            break
    values = acq(x)
    if cont.any() and polish:
        top = np.argsort(-values)[:polish]
        x[top] = _lbfgs_each(acq, x[top], cont)
        values = acq(x)
    return x, values


def _lbfgs_joint(acq: Acquisition, x0: np.ndarray, cont: np.ndarray) -> np.ndarray:
    """One L-BFGS-B run on the sum over starts (they do not interact): cheap, but
    its stopping rule answers to the sum, so the best start may stop short."""
    n, dc = x0.shape[0], int(cont.sum())

    def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
        x = x0.copy()
        x[:, cont] = flat.reshape(n, dc)
        vals, grads = acq.value_and_grad(x)
        return -float(vals.sum()), -grads[:, cont].ravel()

    res = minimize(
        fun,
        x0[:, cont].ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * (n * dc),
        options={"maxiter": 50},
    )
    x = x0.copy()
    x[:, cont] = res.x.reshape(n, dc)
    return _keep_better(acq, x0, x)


def _lbfgs_each(acq: Acquisition, x0: np.ndarray, cont: np.ndarray) -> np.ndarray:
    """L-BFGS-B from each start separately, to full precision."""
    x = x0.copy()
    for i in range(len(x0)):

        def fun(xc: np.ndarray, i: int = i) -> tuple[float, np.ndarray]:
            xi = x0[i].copy()
            xi[cont] = xc
            val, grad = acq.value_and_grad(xi[None, :])
            return -float(val[0]), -grad[0, cont]

        res = minimize(
            fun,
            x0[i, cont],
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * int(cont.sum()),
            options={"maxiter": 200},
        )
        if np.isfinite(res.fun):
            x[i, cont] = res.x
    return _keep_better(acq, x0, x)


def _keep_better(acq: Acquisition, x0: np.ndarray, x: np.ndarray) -> np.ndarray:
    # A failed line search can end worse than it started: keep the start then.
    worse = acq(x) < acq(x0)
    x[worse] = x0[worse]
    return x


def _discrete_sweep(
    acq: Acquisition, dims: MixedDims, x: np.ndarray
) -> tuple[np.ndarray, bool]:
    """For each discrete dimension in turn, move every point to its best value."""
    changed = False
    x = x.copy()
    for j, grid in enumerate(dims.grids):
        if grid is None or len(grid) < 2:
            continue
        n, g = x.shape[0], len(grid)
        trial = np.repeat(x, g, axis=0)
        trial[:, j] = np.tile(grid, n)
        vals = acq(trial).reshape(n, g)
        best = grid[vals.argmax(axis=1)]
        changed |= bool(np.any(best != x[:, j]))
        x[:, j] = best
    return x, changed
