"""One output of the Bayesian searcher's model: an objective or a constraint.

Each output keeps its own GP fit: the output transform chosen for it, the warp
from its values to the standardised targets the GP sees (and back), and the last
hyperparameters per transform to warm-start the next fit. The searcher holds one
for its (first) objective, and one per further objective and per constraint.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from tuitune.search.gp import GaussianProcess, Hyper
from tuitune.search.gp_fit import fit_gp
from tuitune.search.transforms import (
    AUTO_MIN_RATIO,
    TRANSFORMS,
    fitted_warp,
    inverse_warp,
    log_jacobian,
    rank_warp,
    standardize,
    transform_losses,
)

#: Values of the `transform` option.
TRANSFORM_CHOICES = ("auto", "log", "none", "rank")


class OutputModel:
    """Fits a GP to one output's values (smaller is better), caching the last fit.

    Args:
        is_cat: Categorical dimensions of the inputs.
        transform: "auto", "log", "none" or "rank" (see `fit`).
        min_noise: The noise floor (standardised units).
        seed: Seeds the random restarts of the hyperparameter fit.
        fit_restarts: Random restarts besides the warm start.
    """

    def __init__(self, is_cat: np.ndarray, transform: str, min_noise: float, seed: int,
                 fit_restarts: int = 1) -> None:
        self.is_cat = is_cat
        self.transform = transform
        self.min_noise = min_noise
        self.seed = seed
        self.fit_restarts = fit_restarts
        self.how = "none"  # the transform of the last fit
        self.warp = fitted_warp(np.zeros(0), "none")  # values -> the GP's targets
        self.unwarp = inverse_warp(np.zeros(0), "none")  # and back
        self._hyper: dict[str, Hyper] = {}
        self._auto: str | None = None
        self._auto_next = 0
        self._key: str | None = None
        self._fit: tuple[GaussianProcess, np.ndarray] | None = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> tuple[GaussianProcess, np.ndarray]:
        """Fit (or reuse) the GP on transformed, standardised values; returns the
        model and its targets.

        Non-finite values are failed or diverged trials. With failures among the
        results, "auto" takes the rank transform (normal scores, failures tied
        worst; transforms.py): imputing the worst finite value instead put a
        cliff of outliers into the fit, and on a 6-d problem where one trial in
        five diverges the searcher fell behind random search (benchmarks/results/
        noisy.md). Without failures (or with "none"/"log"), failures are imputed as
        the worst finite value.
        """
        key = hashlib.sha1(x.tobytes() + y.tobytes()).hexdigest()
        if self._fit is not None and key == self._key:
            return self._fit
        how = self._transform_for(x, y)
        if how == "rank":
            self.warp, self.unwarp = rank_warp(y)
            y_std = self.warp(y)
        else:
            finite = np.isfinite(y)
            y_imp = np.where(finite, y, float(np.max(y[finite])))
            self.warp = fitted_warp(y_imp, how)
            self.unwarp = inverse_warp(y_imp, how)
            y_std = self.warp(y_imp)
        self.how = how
        rng = np.random.default_rng([self.seed, len(y), 3])
        gp = fit_gp(x, y_std, self.is_cat, min_noise=self.min_noise,
                    warm=self._hyper.get(how), rng=rng, n_random=self.fit_restarts)
        self._hyper[how] = gp.hyper
        self._key, self._fit = key, (gp, y_std)
        return gp, y_std

    def _transform_for(self, x: np.ndarray, y: np.ndarray) -> str:
        """The output transform; "auto" takes ranks when some trial failed, and
        otherwise compares likelihoods now and then."""
        if self.transform != "auto":
            return self.transform
        finite = np.isfinite(y)
        if not finite.all():
            return "rank"
        lo, hi = float(np.min(y)), float(np.max(y))
        if lo <= 0.0 or hi < AUTO_MIN_RATIO * lo:
            return "none"
        if self._auto is not None and len(y) < self._auto_next:
            return self._auto
        scores = {how: self._warped_evidence(x, y, how) for how in TRANSFORMS}
        self._auto = max(TRANSFORMS, key=lambda how: scores[how])
        self._auto_next = len(y) + max(5, len(y) // 4)
        return self._auto

    def _warped_evidence(self, x: np.ndarray, y: np.ndarray, how: str) -> float:
        """Log marginal likelihood of the original values under a warped GP."""
        t = transform_losses(y, how)
        gp = fit_gp(x, standardize(t), self.is_cat, min_noise=self.min_noise,
                    warm=self._hyper.get(how), n_random=0)
        self._hyper[how] = gp.hyper
        return (
            gp.log_marginal_likelihood()
            + log_jacobian(y, how)
            - len(y) * math.log(float(np.std(t)))
        )
