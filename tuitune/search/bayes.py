"""Bayesian optimisation: a GP surrogate with log expected improvement.

Every observation counts, hand-run trials included; the initial quasi-random
design only fills up what is missing to `n_initial` results. Pending trials enter
the model as fantasies (kriging believer or constant liar) so that concurrent
asks spread out. With early stopping the model is fit at one common fidelity and
trials stopped below it enter as imputed, noisier observations (fidelity.py),
and a fraction of the asks (`random_fraction`, BOHB's rho) is drawn at random.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from tuitune.core.decisions import Exhausted, Suggest
from tuitune.core.history import History
from tuitune.core.space import CategoricalParam, FloatParam, IntParam, MomentumParam, Param, Space
from tuitune.search.acquisition import Acquisition, LogEI, MixedDims, optimize_acquisition
from tuitune.core.options import boolean, integer, number, one_of
from tuitune.search.base import Observation, Searcher, discrete_values, n_values
from tuitune.search.bayes_multi import ExtraOutputs
from tuitune.search.conditional import Embedding, on_cube
from tuitune.search.fidelity import FidelityView, Stopped, fidelity_view, impute
from tuitune.search.gp import GaussianProcess
from tuitune.search.outputs import TRANSFORM_CHOICES, OutputModel

#: Integer dimensions with more values than this are moved by gradient and
#: rounded; smaller ones are searched value by value.
MAX_ENUMERATED = 256


def mixed_dims(space: Space) -> MixedDims:
    """Which dimensions are categorical and which are searched by enumeration."""
    is_cat, grids = [], []
    for p in space.dims:
        is_cat.append(isinstance(p, CategoricalParam))
        grids.append(_grid(p))
    return MixedDims(np.array(is_cat, dtype=bool), tuple(grids))


def _grid(p: Param) -> np.ndarray | None:
    if isinstance(p, (FloatParam, MomentumParam)):
        return None
    count = n_values(p)
    if count is None or (isinstance(p, IntParam) and count > MAX_ENUMERATED):
        return None
    return np.array([p.to_unit(v) for v in discrete_values(p) or []], dtype=float)


@dataclass(frozen=True)
class Surrogate:
    """A fitted model: the GP over the unit cube (standardised, warped losses), the
    level expected improvement is measured from, and the map back to losses."""

    gp: GaussianProcess
    threshold: float
    to_loss: Callable[[np.ndarray], np.ndarray]


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the GP on one BLAS thread when threadpoolctl is there to say so.

    The GP makes many small matrix calls: with OpenBLAS threads (even two) they
    spin and contend, measured here at 8x the CPU time per suggestion. Setting
    OPENBLAS_NUM_THREADS=1 in the environment has the same effect; threadpoolctl
    is optional, never required.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


class BayesSearcher(Searcher):
    """GP-based Bayesian optimisation with log expected improvement.

    Options:
        n_initial: Results wanted before the model is used (default 10); the
            initial design is a scrambled Sobol sequence, and results already
            present (hand trials) count toward it.
        candidates: Quasi-random candidates scored per ask (default 2048).
        restarts: Local refinements of the acquisition per ask (default 10).
        pending: "believer" (fantasy = posterior mean, default) or "liar"
            (fantasy = best observed value).
        deterministic: Let the fitted noise go down to 1e-8 of the (standardised)
            signal variance instead of 1e-6, for simulators and other exact objectives.
        transform: "auto" (default: ranks when some trial failed or diverged;
            otherwise, for positive losses spanning three orders of magnitude, logs
            or not, whichever makes the GP likelier, checked every few results; see
            outputs.py and transforms.py), "log", "none" or "rank".
        fit_restarts: Random restarts of the hyperparameter fit besides the warm
            start (the previous fit, or the defaults at first); default 1.
        fidelity: "common" (default: with trials cut short by early stopping, fit
            at the highest step enough trials reached and impute the others, see
            fidelity.py) or "best" (every trial counts with its best value so far).
        fidelity_trials: How many trials must reach a step for it to be the common
            fidelity (default max(3, d + 1), BOHB's minimum points in a model).
        random_fraction: While early stopping censors the results (some finished
            trial was stopped before completing), this fraction of the model's asks
            is a random configuration instead (default 1/3, BOHB's rho), so that a
            model fit on censored values cannot starve exploration. Which asks are
            random is a seeded draw keyed by the seed and the numbers of results and
            pending trials. Without early stopping it has no effect.
    """

    name: ClassVar[str] = "bayes"
    multi_objective: ClassVar[bool] = True  # bayes_multi.py
    option_specs: ClassVar[dict[str, Any]] = {
        "n_initial": integer(0),
        "candidates": integer(1),
        "restarts": integer(1),
        "pending": one_of("believer", "liar"),
        "deterministic": boolean(),
        "transform": one_of(*TRANSFORM_CHOICES),
        "fit_restarts": integer(0),
        "fidelity": one_of("common", "best"),
        "fidelity_trials": integer(2),
        "random_fraction": number(0.0, 1.0),
    }

    def __init__(self, space: Space, seed: int = 0, mode: str = "min", **options: Any) -> None:
        super().__init__(space, seed, mode, **options)
        self.n_initial: int = self.option("n_initial", 10)
        self.n_candidates: int = self.option("candidates", 2048)
        self.restarts: int = self.option("restarts", 10)
        self.pending_strategy: str = self.option("pending", "believer")
        self.deterministic: bool = self.option("deterministic", False)
        self.transform: str = self.option("transform", "auto")
        self.dims = mixed_dims(space)
        # Conditional spaces: the GP's inputs add an indicator per conditional
        # parameter and impute inactive ones (conditional.py); plain spaces: as is.
        self._embedding = Embedding(space)
        self._model_is_cat = self._embedding.model_is_cat(self.dims.is_cat)
        self._sobol: np.ndarray | None = None
        self._sobol_next = 0
        self._objective = OutputModel(self._model_is_cat, self.transform, self.min_noise,
                                      self.seed, self.option("fit_restarts", 1))
        self._extra = ExtraOutputs(self._model_is_cat, len(self.modes), self.min_noise,
                                   self.seed, self.transform)
        self._rows: list[Observation] = []  # the observations behind the last training data
        self._inputs: dict[tuple[Any, ...], np.ndarray | None] = {}  # see _model_input
        self.fidelity: str = self.option("fidelity", "common")
        self.fidelity_trials: int = self.option("fidelity_trials", max(3, len(space.dims) + 1))
        self._view = FidelityView(None)  # the last sync's split of results by fidelity
        self.random_fraction: float = self.option("random_fraction", 1 / 3)
        self._censored = False  # did the last sync see trials cut short by early stopping?

    # -- results -------------------------------------------------------------

    def sync(self, history: History) -> None:
        """As `Searcher.sync`, at a common fidelity (unless `fidelity = "best"`):
        trials that reached it are observations with their best value up to it;
        trials stopped below it are kept apart, to be imputed when the model is built."""
        if self.fidelity == "best" or len(self.modes) > 1 or history.constraints:
            # Several objectives or constraints: every trial counts with its values.
            self._view = FidelityView(None)
            self._censored = fidelity_view(history, self.fidelity_trials).censored
            super().sync(history)
            return
        self._observations.clear()
        self._observed_keys.clear()
        self._view = view = fidelity_view(history, self.fidelity_trials)
        self._censored = view.censored
        for params, value in view.reached:
            self.tell(params, value)
        for params in view.failed:
            self.tell(params, math.nan)
        for stopped in view.stopped:
            self._observed_keys.add(self.space.key(self._complete(stopped.params)[0]))
        self.set_pending([t.effective_params() for t in history.pending])

    @property
    def min_noise(self) -> float:
        return 1e-8 if self.deterministic else 1e-6

    # -- asking ------------------------------------------------------------

    def _ask(self) -> Suggest | Exhausted:
        with one_blas_thread():
            return self._ask_model()

    def _ask_model(self) -> Suggest | Exhausted:
        if not self.space.dims:
            return self.suggest({}, "the space has no searchable parameter")
        x, y = self._training_data()
        n_finite = int(np.isfinite(y).sum())
        results = len(self._observations) + len(self._view.stopped)
        if results + len(self._pending) < self.n_initial or n_finite < 2:
            return self._initial_design()
        if self._censored and self.random_fraction > 0:
            rng = np.random.default_rng([self.seed, results, len(self._pending), 11])
            if rng.random() < self.random_fraction:
                params = self.random_new(rng)
                if params is not None:
                    return self.suggest(
                        params,
                        f"random (random_fraction {self.random_fraction:.2g}): early "
                        "stopping censors the results, so some asks explore at random",
                    )
        return self._model_suggestion(x, y)

    def _training_data(self) -> tuple[np.ndarray, np.ndarray]:
        rows, losses = [], []
        self._rows = []
        for o in self._observations:
            # Trials outside the space (hand-run, or from before a space revision)
            # inform the model where they are, not at the nearest edge.
            u = self._model_input(o.params, clip=o.in_space)
            if u is not None:
                rows.append(u)
                losses.append(o.loss)
                self._rows.append(o)
        d = self._embedding.width
        return np.array(rows, dtype=float).reshape(-1, d), np.array(losses, dtype=float)

    def _model_input(self, params: Mapping[str, Any], clip: bool = True) -> np.ndarray | None:
        """A configuration as the GP sees it (see conditional.py), or None.

        Remembered per configuration: every ask encodes every result again, and in
        a conditional space each encoding evaluates the conditions in Python."""
        try:
            # With the types: 1, 1.0 and True are equal keys but may encode apart.
            key = (tuple((k, v, type(v)) for k, v in params.items()), clip)
            if key in self._inputs:
                return self._inputs[key]
        except TypeError:  # an unhashable value (from outside the space): no caching
            key = None
        u = self.encode(params, clip=clip)
        row = None if u is None else self._embedding.embed_params(params, u)
        if key is not None:
            if len(self._inputs) >= 100_000:
                self._inputs.clear()
            self._inputs[key] = row
        return row

    def _initial_design(self) -> Suggest | Exhausted:
        if self._sobol is None:
            from scipy.stats import qmc  # slow to import: only when needed

            m = max(4, math.ceil(math.log2(max(self.n_initial, 1) * 4)))
            sobol = qmc.Sobol(len(self.space.dims), scramble=True, seed=self.seed)
            self._sobol = sobol.random_base2(m)
        while self._sobol_next < len(self._sobol):
            u = self.dims.snap(self._sobol[self._sobol_next][None, :])[0]
            self._sobol_next += 1
            params = self.space.decode(u)
            if self.is_new(params):
                return self.suggest(params, f"initial design (Sobol point {self._sobol_next})")
        fresh = self.random_new(self._rng)
        if fresh is None:
            return Exhausted("no untried configuration left for the initial design")
        return self.suggest(fresh, "initial design (random)")

    def _model_suggestion(self, x: np.ndarray, y: np.ndarray) -> Suggest | Exhausted:
        gp, y_std = self.fit_model(x, y)
        gp_all, threshold = self._with_pending(self._with_stopped(gp), y_std, x)
        rng = np.random.default_rng([self.seed, len(y), len(self._pending), 7])
        acq: Acquisition = LogEI(on_cube(gp_all, self._embedding), threshold)
        if len(self.modes) > 1 or any(o.violations for o in self._rows):
            pending = [u for u in (self._model_input(p) for p in self._pending) if u is not None]
            acq = self._extra.acquisition(
                x, self._rows, gp_all, np.array(pending).reshape(-1, x.shape[1]), rng,
                lambda g: on_cube(g, self._embedding))
        from scipy.stats import qmc  # slow to import: only when needed

        # A power of two keeps Sobol's balance (and scipy quiet); use the first ones.
        m = max(1, math.ceil(math.log2(self.n_candidates)))
        d = len(self.space.dims)  # the cube's; the model may have indicators too
        sobol = qmc.Sobol(d, scramble=True, seed=rng)
        candidates = sobol.random_base2(m)[: self.n_candidates]
        best_seen = np.clip(x[[int(np.argmin(gp.posterior(x)[0]))], :d], 0.0, 1.0)
        points, values = optimize_acquisition(
            acq, self.dims, candidates, best_seen, self.restarts, rng
        )
        for u, v in zip(points, values, strict=True):
            params = self.space.decode(u)
            if self.is_new(params):
                return self.suggest(params, self._reason(gp_all, u, float(v), y))
        fresh = self.random_new(self._rng)
        if fresh is None:
            return Exhausted("every candidate of the acquisition is already tried")
        return self.suggest(fresh, "random: every acquisition candidate was already tried")

    def _acquisition_name(self) -> str:
        name = ("log expected hypervolume improvement" if len(self.modes) == 2
                else "log expected improvement" if len(self.modes) == 1
                else "ParEGO log expected improvement")
        has_constraints = any(o.violations for o in self._rows)
        return name + (" x feasibility" if has_constraints else "")

    def _reason(self, gp: GaussianProcess, u: np.ndarray, log_ei: float, y: np.ndarray) -> str:
        mean, _ = on_cube(gp, self._embedding).posterior(u[None, :])
        finite = y[np.isfinite(y)]
        at = ""
        if self._view.step is not None:
            at = (f" at step {self._view.step} ({len(self._view.stopped)} trials stopped "
                  "earlier imputed)")
        return (
            f"GP{at}: {self._acquisition_name()} {log_ei:.3g}, predicted {float(mean[0]):+.2f} sd "
            f"from the mean of {len(finite)} results"
        )

    # -- the model -----------------------------------------------------------

    def fit_model(self, x: np.ndarray, y: np.ndarray) -> tuple[GaussianProcess, np.ndarray]:
        """Fit (or reuse) the GP on transformed, standardised losses (outputs.py:
        failed or diverged trials, NaN here, are ranked worst or imputed as the
        worst finite loss). Returns the model and its targets."""
        return self._objective.fit(x, y)

    @property
    def _warp(self) -> Callable[[np.ndarray], np.ndarray]:
        return self._objective.warp

    @property
    def _unwarp(self) -> Callable[[np.ndarray], np.ndarray]:
        return self._objective.unwarp

    def _transform_for(self, x: np.ndarray, y: np.ndarray) -> str:
        return self._objective._transform_for(x, y)

    def _with_stopped(self, gp: GaussianProcess) -> GaussianProcess:
        """Add the trials stopped below the common fidelity, imputed (fidelity.py) in
        the model's own units, with the imputation's variance as extra noise."""
        if not self._view.stopped:
            return gp
        rows, means, variances = [], [], []
        by_step: dict[int, list[tuple[Stopped, np.ndarray]]] = {}
        for stopped in self._view.stopped:
            u = self._model_input(self._complete(stopped.params)[0])
            if u is not None:
                by_step.setdefault(stopped.step, []).append((stopped, u))
        for step, group in by_step.items():
            pairs = np.array(self._view.references.get(step, []), dtype=float).reshape(-1, 2)
            ref = np.column_stack([self._warp(self._loss(pairs[:, 0])),
                                   self._warp(self._loss(pairs[:, 1]))])
            ref = ref[np.all(np.isfinite(ref), axis=1)]
            early = self._warp(self._loss(np.array([s.value for s, _ in group])))
            mean, var = impute(ref, np.nan_to_num(early, nan=float(np.max(ref[:, 0], initial=0))))
            for (_, u), m, v in zip(group, mean, var, strict=True):
                rows.append(u)
                means.append(m)
                variances.append(v)
        if not rows:
            return gp
        return gp.condition_on(np.array(rows), np.array(means), np.array(variances))

    def _loss(self, values: np.ndarray) -> np.ndarray:
        return values if self.mode == "min" else -values

    def _with_pending(
        self, gp: GaussianProcess, y_std: np.ndarray, x: np.ndarray
    ) -> tuple[GaussianProcess, float]:
        """Add fantasies for pending trials; the threshold is the best posterior mean
        at the observed and pending points (imputed ones are not results)."""
        rows = [u for u in (self._model_input(p) for p in self._pending) if u is not None]
        if rows:
            xp = np.array(rows)
            if self.pending_strategy == "believer":
                yp = gp.posterior(xp)[0]
            else:
                yp = np.full(len(xp), float(np.min(y_std)))
            gp = gp.condition_on(xp, yp)
            x = np.vstack([x, xp])
        return gp, float(np.min(gp.posterior(x)[0]))

    def surrogate(self) -> Surrogate | None:
        """The fitted model as it would score the next ask (stopped trials imputed,
        no pending fantasies), for drawing it; None before two finite results."""
        x, y = self._training_data()
        if len(x) < 2 or np.isfinite(y).sum() < 2:
            return None
        with one_blas_thread():
            gp, _ = self.fit_model(x, y)
            gp = self._with_stopped(gp)
            threshold = float(np.min(gp.posterior(x)[0]))
        return Surrogate(on_cube(gp, self._embedding), threshold, self._unwarp)

    def incumbent(self) -> dict[str, Any] | None:
        """The observed configuration with the lowest posterior mean (robust to noise)."""
        x, y = self._training_data()
        if len(x) < 2 or np.isfinite(y).sum() < 2:
            return super().incumbent()
        with one_blas_thread():
            gp, _ = self.fit_model(x, y)
            mean = gp.posterior(x)[0]
        mean[~np.isfinite(y)] = np.inf
        feasible = np.array([o.feasible for o in self._rows], dtype=bool)
        if feasible.any():
            mean[~feasible] = np.inf  # the best feasible one (bayes_multi.py)
        return dict(self._rows[int(np.argmin(mean))].params)
