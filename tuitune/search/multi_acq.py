"""Acquisitions for several objectives and for constraints (log scale, with
gradients, for `optimize_acquisition`).

- `LogFeasibility`: log P(c(x) <= bound) under a GP fitted to a constraint's
  values, the probability of feasibility of Gardner et al. (2014, "Bayesian
  optimization with inequality constraints"), as Optuna's GPSampler uses it:
  expected improvement times the probability that every constraint holds.
- `LogEHVI2`: the expected hypervolume improvement for two objectives with
  independent GPs, in closed form (Emmerich et al. 2006; the cell decomposition
  of Yang et al. 2019). The region the front does not dominate is cut into
  vertical strips; in strip j (objective 1 in [l_j, u_j], objective 2 below b_j)
  a point y adds (u_j - max(y1, l_j))+ * (b_j - y2)+, whose expectation is a
  product of one-dimensional terms: sigma (h(beta) - h(alpha)) with
  h(z) = z Phi(z) + phi(z). Summed in log space (log h from acquisition.py), so
  far from the front it never underflows to a flat zero.
- `SumOfLogs`: a product of such factors, on the log scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import log_ndtr, logsumexp

from tuitune.search.acquisition import Acquisition, _log1mexp, log_h
from tuitune.search.gp import GaussianProcess

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _log_phi(z: np.ndarray) -> np.ndarray:
    return -0.5 * z * z - _LOG_SQRT_2PI


class LogFeasibility:
    """log P(c(x) <= threshold) for a GP over a constraint (standardised units)."""

    def __init__(self, gp: GaussianProcess, threshold: float) -> None:
        self.gp = gp
        self.threshold = float(threshold)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        mean, var = self.gp.posterior(x)
        return log_ndtr((self.threshold - mean) / np.sqrt(var))

    def value_and_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, var, dmean, dvar = self.gp.posterior_grad(x)
        sigma = np.sqrt(var)
        z = (self.threshold - mean) / sigma
        lp = log_ndtr(z)
        mills = np.exp(_log_phi(z) - lp)  # d log Phi / dz
        dsigma = dvar / (2.0 * sigma[:, None])
        dz = (-dmean - z[:, None] * dsigma) / sigma[:, None]
        return lp, mills[:, None] * dz


class SumOfLogs:
    """The product of several log-scale factors (e.g. log EI + log feasibility)."""

    def __init__(self, parts: Sequence[Acquisition]) -> None:
        self.parts = list(parts)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.sum([p(x) for p in self.parts], axis=0)

    def value_and_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        vals, grads = zip(*(p.value_and_grad(x) for p in self.parts), strict=True)
        return np.sum(vals, axis=0), np.sum(grads, axis=0)


class LogEHVI2:
    """log expected hypervolume improvement over `front` for two minimised GPs.

    Args:
        gp1, gp2: The objectives' posteriors (standardised units, fantasies included).
        front: The current Pareto front in the same units, shape (k, 2).
        reference: The reference point bounding the hypervolume, shape (2,).
    """

    def __init__(self, gp1: GaussianProcess, gp2: GaussianProcess, front: np.ndarray,
                 reference: np.ndarray) -> None:
        self.gps = (gp1, gp2)
        ref = np.asarray(reference, dtype=float)
        f = np.asarray(front, dtype=float).reshape(-1, 2)
        f = f[np.all(f < ref, axis=1)]
        f = f[np.argsort(f[:, 0], kind="stable")]
        # Keep a staircase: objective 2 strictly falling as objective 1 grows.
        stairs, level = [], float(ref[1])
        for a, b in f:
            if b < level:
                stairs.append((a, b))
                level = b
        s = np.array(stairs, dtype=float).reshape(-1, 2)
        self.lower = np.concatenate([[-np.inf], s[:, 0]])  # strip j: objective 1 from
        self.upper = np.concatenate([s[:, 0], [ref[0]]])  # ... to
        self.top = np.concatenate([[ref[1]], s[:, 1]])  # objective 2 below this

    def __call__(self, x: np.ndarray) -> np.ndarray:
        (m1, v1), (m2, v2) = (gp.posterior(x) for gp in self.gps)
        return self._terms(m1, np.sqrt(v1), m2, np.sqrt(v2))[0]

    def _terms(self, m1: np.ndarray, s1: np.ndarray, m2: np.ndarray, s2: np.ndarray
               ) -> tuple[np.ndarray, ...]:
        a1 = (self.lower[None, :] - m1[:, None]) / s1[:, None]  # (m, strips)
        b1 = (self.upper[None, :] - m1[:, None]) / s1[:, None]
        b2 = (self.top[None, :] - m2[:, None]) / s2[:, None]
        lh_b1, lh_b2 = log_h(b1), log_h(b2)
        with np.errstate(divide="ignore", invalid="ignore"):
            lh_a1 = np.where(np.isfinite(a1), log_h(np.where(np.isfinite(a1), a1, 0.0)), -np.inf)
            gap = np.minimum(lh_a1 - lh_b1, -1e-300)
            log_f1 = np.log(s1)[:, None] + lh_b1 + np.where(np.isfinite(lh_a1), _log1mexp(gap), 0.0)
        log_f2 = np.log(s2)[:, None] + lh_b2
        terms = log_f1 + log_f2
        return logsumexp(terms, axis=1), terms, a1, b1, b2, log_f1, log_f2

    def value_and_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (m1, v1, dm1, dv1), (m2, v2, dm2, dv2) = (gp.posterior_grad(x) for gp in self.gps)
        s1, s2 = np.sqrt(v1), np.sqrt(v2)
        value, terms, a1, b1, b2, log_f1, log_f2 = self._terms(m1, s1, m2, s2)
        w = np.exp(terms - value[:, None])  # each strip's share of the improvement
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            fin = np.isfinite(a1)
            a1z = np.where(fin, a1, 0.0)
            # d F1 / d mu1 = -(Phi(b) - Phi(a)), d F1 / d sigma1 = phi(b) - phi(a); over F1.
            cdf = np.exp(log_ndtr(b1) - log_f1 + np.log(s1)[:, None]) - np.where(
                fin, np.exp(log_ndtr(a1z) - log_f1 + np.log(s1)[:, None]), 0.0)
            pdf = np.exp(_log_phi(b1) - log_f1) - np.where(fin, np.exp(_log_phi(a1z) - log_f1), 0.0)
            dl_dm1 = np.nansum(w * -cdf / s1[:, None], axis=1)
            dl_ds1 = np.nansum(w * pdf, axis=1)
            dl_dm2 = np.nansum(w * -np.exp(log_ndtr(b2) - log_f2), axis=1)
            dl_ds2 = np.nansum(w * np.exp(_log_phi(b2) - log_f2), axis=1)
        grad = (dl_dm1[:, None] * dm1 + (dl_ds1 / (2.0 * s1))[:, None] * dv1
                + dl_dm2[:, None] * dm2 + (dl_ds2 / (2.0 * s2))[:, None] * dv2)
        return value, np.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)
