"""Learning-curve extrapolation: stop a trial that will probably not end among the best.

In the spirit of Domhan, Springenberg and Hutter (IJCAI 2015): a trial's partial
curve is fitted by a small ensemble of learning-curve families, each of the form
`y(t) = c + a * g_theta(t)` (y the objective as a loss, t the step):

- power law:   g(t) = t^-alpha
- exponential: g(t) = exp(-b * t / T)
- log-power:   g(t) = 1 / (1 + (t / tau)^gamma)   (Domhan's "log power", shifted)

The shape parameter theta runs over a fixed grid, and (c, a) are fitted by least
squares for each grid point, so a fit is a few small linear solves: deterministic,
no optimiser to fail, about a millisecond per trial. The grid points are weighted
by their likelihood, exp(-SSE / 2 sigma^2), which makes a Bayesian model average
over families and shapes (flat priors); each point's prediction at the horizon T
carries the linear fit's standard error and the noise of one final value. The
ensemble's predicted final value is that mixture's mean, its uncertainty the
mixture's standard deviation. The noise sigma combines the trial's own residuals
with a noise level read from the curves of the run (the spread of second
differences over the last points of each curve, where curves are nearly straight),
or the `noise` option.

A trial is stopped when the probability that its final value beats the current
k-th best is below `probability`. The k-th best is taken among the final values
of trials that reached T and the predicted final values of the other running
trials (their mean plus one standard deviation: a cautious bar), so the rule
works in a run where every trial is still running. Until k such rivals exist
nothing is stopped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from tuitune.core.decisions import Exploit, Stop
from tuitune.core.history import History, TrialView
from tuitune.core.options import float_option, int_option
from tuitune.core.space import Space
from tuitune.stopping.base import StoppingRule, candidates, fmt, loss

#: (family, grid of its shape parameter): g(t, T) for each grid point.
_ALPHAS = np.geomspace(0.05, 3.0, 20)
_RATES = np.geomspace(0.3, 30.0, 20)
_TAUS = np.geomspace(0.3, 3.0, 7)  # as fractions of T
_GAMMAS = (0.5, 1.0, 2.0)
FAMILIES = ("power law", "exponential", "log-power")


def _basis(t: np.ndarray, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """g for every grid point at the steps `t` and at the horizon: (G, n), (G,), and
    the family index of each grid point (G,)."""
    ts = np.append(t, horizon)
    rows, family = [], []
    for alpha in _ALPHAS:
        rows.append(ts ** -alpha)
        family.append(0)
    for rate in _RATES:
        rows.append(np.exp(-rate * ts / horizon))
        family.append(1)
    for tau in _TAUS:
        for gamma in _GAMMAS:
            rows.append(1.0 / (1.0 + (ts / (tau * horizon)) ** gamma))
            family.append(2)
    g = np.array(rows)
    return g, np.array(family)


def extrapolate(steps: np.ndarray, losses: np.ndarray, horizon: float,
                noise: float) -> tuple[float, float, dict[str, float]]:
    """Predict the loss at `horizon` from a partial curve.

    Returns (mean, standard deviation, weight of each family).
    """
    t = np.asarray(steps, float)
    y = np.asarray(losses, float)
    if t.min() < 1.0:  # a step 0 (or below): the families need t >= 1
        horizon += 1.0 - t.min()
        t = t + (1.0 - t.min())
    n = len(t)
    g_all, family = _basis(t, horizon)
    g, g_end = g_all[:, :n], g_all[:, n]
    # Least squares of y = c + a*g for every grid point at once (simple regression).
    gm = g.mean(axis=1)
    ym = y.mean()
    sxx = ((g - gm[:, None]) ** 2).sum(axis=1) + 1e-12
    sxy = ((g - gm[:, None]) * (y - ym)).sum(axis=1)
    a = sxy / sxx
    c = ym - a * gm
    sse = ((y[None, :] - (c[:, None] + a[:, None] * g)) ** 2).sum(axis=1)
    # Noise: the run's level as a prior (2 pseudo-observations), the residuals as data.
    dof = max(n - 3, 0)
    sigma2 = (2.0 * noise ** 2 + sse.min()) / (2.0 + dof)
    sigma2 = max(sigma2, 1e-12)
    logw = -(sse - sse.min()) / (2.0 * sigma2)
    w = np.exp(logw)
    w /= w.sum()
    mean_k = c + a * g_end
    # The fit's standard error at the horizon, plus the noise of the final value itself.
    var_k = sigma2 * (1.0 + 1.0 / n + (g_end - gm) ** 2 / sxx)
    mean = float((w * mean_k).sum())
    var = float((w * (var_k + mean_k ** 2)).sum() - mean ** 2)
    weights = {name: float(w[family == i].sum()) for i, name in enumerate(FAMILIES)}
    return mean, math.sqrt(max(var, 0.0)), weights


def _robust_noise(losses: np.ndarray) -> float | None:
    """The point-to-point noise of a curve's last points (None when too short)."""
    tail = losses[-6:]
    if len(tail) < 4 or not np.all(np.isfinite(tail)):
        return None
    d2 = np.diff(tail, 2)  # a straight line's second differences are pure noise
    return float(np.median(np.abs(d2)) / 0.6745 / math.sqrt(6.0))


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


class PredictRule(StoppingRule):
    """Stop a trial whose extrapolated final value will probably not make the top k.

    Args:
        min_steps: no decision before a trial reported this step (and at least 3 points).
        top_k: the trial must be likely to end better than the k-th best final value.
        probability: stop when P(final better than the k-th best) is below this.
        max_steps: the horizon T (the budget's max_steps by default); needed.
        noise: the noise of one reported value; None estimates it from the run.
    """

    name = "predict"
    options = frozenset({"min_steps", "top_k", "probability", "max_steps", "noise"})

    def __init__(self, max_steps: int, min_steps: int = 3, top_k: int = 3,
                 probability: float = 0.05, noise: float | None = None) -> None:
        self.max_steps = int_option(self.name, "max_steps", max_steps, 2)
        self.min_steps = int_option(self.name, "min_steps", min_steps, 1)
        self.top_k = int_option(self.name, "top_k", top_k, 1)
        self.probability = float_option(self.name, "probability", probability, 0.0, 0.5,
                                        open_low=True)
        self.noise = None if noise is None else float_option(self.name, "noise", noise, 0.0)
        self._judged_at: dict[int, int] = {}
        self._finished_noise: dict[int, float | None] = {}  # cache: finished curves
        # (trial id, last step) -> prediction: a curve up to a step never changes.
        self._predictions: dict[tuple[int, int], tuple[float, float, dict[str, float]] | None] = {}

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, space: Space, max_steps: int | None,
                     seed: int) -> PredictRule:
        options = dict(options)
        horizon = options.pop("max_steps", max_steps)
        if horizon is None:
            raise ValueError("predict: needs max_steps (in [budget] or [stopping.predict]) "
                             "to know where curves end")
        return cls(max_steps=horizon, **options)

    def decide(self, history: History) -> list[Stop | Exploit]:
        due = []
        for trial in candidates(history):
            step = trial.last_step
            if (step is None or step < self.min_steps or step >= self.max_steps
                    or len(trial.curve) < 3 or self._judged_at.get(trial.id) == step):
                continue
            self._judged_at[trial.id] = step
            due.append(trial)
        if not due:
            return []
        noise = self._noise(history)
        finished, predicted = self._pool(history, noise)
        out: list[Stop | Exploit] = []
        for trial in due:
            if trial.id not in predicted:
                continue  # a non-finite point: the divergence rule's call
            # A running rival counts at its predicted mean plus one standard deviation:
            # an early, steep curve predicts a low final with a wide spread, and at its
            # mean it would set a bar that stops everyone else.
            rivals = sorted([*finished.values(),
                             *(m + sd for i, (m, sd, _) in predicted.items() if i != trial.id)])
            if len(rivals) < self.top_k:
                continue
            stop = self._judge(history, trial, predicted[trial.id], rivals[self.top_k - 1],
                               len(finished), noise)
            if stop is not None:
                out.append(stop)
        return out

    def _pool(self, history: History, noise: float) -> tuple[
            dict[int, float], dict[int, tuple[float, float, dict[str, float]]]]:
        """What a trial must beat: the final losses of trials that reached the horizon,
        and the predicted final losses of the running ones (protected included)."""
        finished: dict[int, float] = {}
        predicted: dict[int, tuple[float, float, dict[str, float]]] = {}
        objective = history.objective
        for t in history.trials:
            if not t.curve:
                continue
            if t.curve[-1][0] >= self.max_steps:
                value = next(v for s, v in t.curve if s >= self.max_steps)
                finished[t.id] = loss(objective, value)
            elif t.is_active and len(t.curve) >= 3 and t.curve[-1][0] >= self.min_steps:
                key = (t.id, t.curve[-1][0])
                if key not in self._predictions:
                    steps = np.array([s for s, _ in t.curve], float)
                    losses = np.array([loss(objective, v) for _, v in t.curve])
                    self._predictions[key] = (
                        extrapolate(steps, losses, float(self.max_steps), noise)
                        if np.all(np.isfinite(losses)) else None)
                found = self._predictions[key]
                if found is not None:
                    predicted[t.id] = found
        return finished, predicted

    def _noise(self, history: History) -> float:
        if self.noise is not None:
            return self.noise
        levels = []
        for t in history.trials:
            cached = t.id in self._finished_noise
            if cached:
                level = self._finished_noise[t.id]
            else:
                level = _robust_noise(np.array([loss(history.objective, v) for _, v in t.curve]))
                if not t.is_active:
                    self._finished_noise[t.id] = level
            if level is not None:
                levels.append(level)
        return float(np.median(levels)) if levels else 0.0

    def _judge(self, history: History, trial: TrialView,
               prediction: tuple[float, float, dict[str, float]], kth: float, n_finished: int,
               noise: float) -> Stop | None:
        objective = history.objective
        mean, sd, weights = prediction
        if not (math.isfinite(mean) and math.isfinite(sd)):
            return None  # nothing to explain a stop with
        if sd > 0:
            p_better = _normal_cdf((kth - mean) / sd)
        else:
            p_better = 1.0 if mean < kth else 0.0
        if p_better >= self.probability:
            return None
        step = trial.last_step
        sign = 1.0 if objective.mode == "min" else -1.0
        predicted, threshold = sign * mean, sign * kth
        relation = "<" if objective.mode == "min" else ">"
        return Stop(
            trial_id=trial.id,
            rule=self.name,
            reason=(
                f"predicted final {objective.metric} {fmt(predicted)} ± {fmt(sd)} at step "
                f"{self.max_steps}; needs {relation} {fmt(threshold)} to enter the top "
                f"{self.top_k} (P = {p_better:.2g} < {self.probability:g}; from "
                f"{len(trial.curve)} points up to step {step})"
            ),
            details={
                "step": step,
                "value": trial.curve[-1][1],
                "threshold": threshold,
                "predicted": predicted,
                "predicted_sd": sd,
                "probability": p_better,
                "top_k": self.top_k,
                "horizon": self.max_steps,
                "finished": n_finished,
                "noise": noise,
                **{f"weight {name}": round(w, 3) for name, w in weights.items()},
            },
        )
