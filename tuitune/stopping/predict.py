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

The model's own uncertainty is not to be trusted as it stands: extrapolated from a few
points, real curves end above the families' prediction far more often than its
standard deviation says (they flatten, or overfit and rise; on the momentum_sgd
recording the residual at the horizon, in units of the predicted sd, has a median of
+0.9 and an rms of 2.5 to 5 from 3 to 6 points). So, with `calibrate = n`, once n trials
have reached the horizon the prediction is calibrated on the run's own finished curves, a
backtest in the manner of split conformal prediction: each finished curve, cut at the
judged trial's step, is extrapolated by the same model, and its standardised residual
z_i = (final_i - mean_i) / sd_i says how the model errs at that step. The predictive
distribution of the judged trial's final is then the mixture over i of
N(mean + z_i sd, (h sd)^2), h by Silverman's rule on the z_i (its spread floored at a
half: the calibrated spread may not claim more than twice the model's confidence).
This shifts the prediction where the model is biased and widens or narrows it to the
errors it actually makes, with no constant fitted to a benchmark. It is off by default:
measured, it stopped more trials but less accurately, for no less compute to the target.

With `across = true` a second prediction is made from the other curves rather than the
trial's own: a least-squares line from the finished curves' values at the judged step to
their finals, calibrated the same way (by its leave-one-out residuals); the sharper of the
two predictions is used. It can judge a trial with fewer than 3 points.

Extrapolated from its first few points, a curve says little on curves that cross: on the
momentum_sgd recording, the families' predictions from 3 (4) of 12 epochs put 10% (none)
of the final best 10% of configurations in their best third, where the raw values at those
epochs put all of them there (benchmarks/diagnose_extrapolation.py). So the rule also
judges at equal fidelity (`same_step`, on by default), as ASHA and the median rule do,
with a probability: at its latest step s a trial is compared with the k-th best of its
rivals' values at s (every trial that reached s), and how far a curve moves from s to the
horizon is read from the run's finished curves (their final minus their value at s). If
both curves move by independent draws of that move, the trial ends ahead of that rival
with probability T_{m-1}(-gap / (sqrt(2) s_move)), Student's t with m - 1 degrees of
freedom for m finished curves (honest with a few of them: from 3 on). This needs no
extrapolation, so it judges a trial from its first point. It yields to the trial's own
curve: a trial whose extrapolation says it more likely than not makes the top k (a slow
learner far behind) is not stopped this way.

A trial is stopped when the probability that its final value beats the current
k-th best is below `probability`. The k-th best is taken among the final values
of trials that reached T and the predicted final values of the other running
trials (their 84th percentile, the mean plus one standard deviation of a normal: a
cautious bar), so the rule
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
from tuitune.core.options import bool_option, float_option, int_option
from tuitune.core.space import Space
from tuitune.stopping.base import StoppingRule, candidates, first_at_or_after, fmt, loss

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


def cross_curve(values: np.ndarray, finals: np.ndarray,
                value: float) -> tuple[float, float, np.ndarray] | None:
    """Predict a final from the value at the same step, by least squares over the
    finished curves (value at that step -> final): (mean, sd, the finished curves'
    leave-one-out residuals in units of their predictive sd). None with fewer than 3."""
    n = len(values)
    if n < 3:
        return None
    xm, fm = values.mean(), finals.mean()
    sxx = float(((values - xm) ** 2).sum())
    slope = float(((values - xm) * (finals - fm)).sum()) / sxx if sxx > 0 else 0.0
    errors = finals - (fm + slope * (values - xm))
    s2 = max(float((errors ** 2).sum()) / (n - 2), 1e-24)
    lever = 1.0 / n + ((values - xm) ** 2 / sxx if sxx > 0 else 0.0)
    loo = errors / np.maximum(1.0 - lever, 1e-9)
    z = loo / np.sqrt(s2 * (1.0 + lever))
    lever_x = 1.0 / n + ((value - xm) ** 2 / sxx if sxx > 0 else 0.0)
    return fm + slope * (value - xm), math.sqrt(s2 * (1.0 + lever_x)), z


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _below(p: float, bound: float) -> str:
    """p to two significant digits, or as many more as it takes to show it below bound."""
    for digits in range(2, 8):
        text = f"{p:.{digits}g}"
        if float(text) < bound:
            return text
    return f"{p:.8g}"


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


#: P(Z < 1) of a standard normal: the 84th percentile, mean + 1 sd.
_PLUS_ONE_SD = 0.5 * (1.0 + math.erf(1.0 / math.sqrt(2.0)))


class Predictive:
    """The distribution of a final value: the model's N(mean, sd^2), or, calibrated by
    the residuals z of finished curves, the mixture of N(mean + z_i sd, (h sd)^2)."""

    def __init__(self, mean: float, sd: float, weights: dict[str, float],
                 residuals: np.ndarray | None = None) -> None:
        self.mean, self.sd, self.weights = mean, sd, weights
        self.residuals = residuals
        if residuals is None:
            self.shift, self.width = np.zeros(1), 1.0
        else:
            n = len(residuals)
            q75, q25 = np.percentile(residuals, [75, 25])
            spread = max(min(float(np.std(residuals)), float(q75 - q25) / 1.349), 0.5)
            self.shift, self.width = residuals, 0.9 * spread * n ** -0.2  # Silverman

    def cdf(self, y: float) -> float:
        if self.sd <= 0:
            return float(np.mean(self.mean + self.shift * self.sd <= y))
        from scipy.special import ndtr  # loaded on first use: the engine starts without it

        z = (y - self.mean - self.shift * self.sd) / (self.width * self.sd)
        return float(np.mean(ndtr(z)))

    def quantile(self, q: float) -> float:
        if self.sd <= 0:
            return self.mean
        if self.residuals is None:  # the model's own normal: exact, no search
            from scipy.special import ndtri

            return self.mean + self.sd * float(ndtri(q))
        lo = self.mean + (float(self.shift.min()) - 6 * self.width) * self.sd
        hi = self.mean + (float(self.shift.max()) + 6 * self.width) * self.sd
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if self.cdf(mid) < q else (lo, mid)
        return 0.5 * (lo + hi)

    def spread(self) -> float:
        """Half the 16-84% range: the normal's sd, for a mixture too."""
        if self.residuals is None:
            return self.sd
        return 0.5 * (self.quantile(_PLUS_ONE_SD) - self.quantile(1.0 - _PLUS_ONE_SD))

    @property
    def calibrated(self) -> int:
        return 0 if self.residuals is None else len(self.residuals)


#: How many of the latest finished curves calibrate a prediction (a bound on the cost).
CALIBRATION_POOL = 50
#: Finished curves the cross-curve prediction needs at least (a line through 5 points).
ACROSS_MIN = 5
#: Finished curves the same-step judgement needs before it judges anything.
SAME_STEP_MIN = 3
#: The rivals' cautious bar: this quantile of their predicted final (a normal's mean + 1 sd).
RIVAL_QUANTILE = _PLUS_ONE_SD


class PredictRule(StoppingRule):
    """Stop a trial whose extrapolated final value will probably not make the top k.

    Args:
        min_steps: no decision before a trial reported this step (the extrapolation needs
            3 points as well, unless `across` predicts; the same-step judgement does not).
        top_k: the trial must be likely to end better than the k-th best final value.
        probability: stop when P(final better than the k-th best) is below this.
        max_steps: the horizon T (the budget's max_steps by default); needed.
        noise: the noise of one reported value; None estimates it from the run.
        calibrate: calibrate predictions on the finished curves once this many reached
            the horizon (0, the default: never; the model's own normal). Off by default:
            on the synthetic curves it stopped more trials at a higher false-stop rate for
            the same compute to the target, and on 100 seeds of the momentum_sgd
            recording it did not reach the target sooner (docs/stopping.md).
        across: also predict a final from where the finished curves went from the same
            value at the same step (a least-squares line, calibrated by its leave-one-out
            residuals), and use the sharper of the two predictions. Off by default: on
            the momentum_sgd recording it halved the false-stop rate but left a worse
            final pick (docs/stopping.md).
        same_step: also judge a trial against its rivals' values at the same step, with
            the spread of the finished curves' moves from that step to the horizon (on by
            default; docs/stopping.md has the benchmark).
    """

    name = "predict"
    options = frozenset({"min_steps", "top_k", "probability", "max_steps", "noise",
                         "calibrate", "across", "same_step"})

    def __init__(self, max_steps: int, min_steps: int = 1, top_k: int = 3,
                 probability: float = 0.05, noise: float | None = None,
                 calibrate: int = 0, across: bool = False, same_step: bool = True) -> None:
        self.max_steps = int_option(self.name, "max_steps", max_steps, 2)
        self.min_steps = int_option(self.name, "min_steps", min_steps, 1)
        self.top_k = int_option(self.name, "top_k", top_k, 1)
        self.probability = float_option(self.name, "probability", probability, 0.0, 0.5,
                                        open_low=True)
        self.noise = None if noise is None else float_option(self.name, "noise", noise, 0.0)
        self.calibrate = int_option(self.name, "calibrate", calibrate, 0)
        self.across = bool_option(self.name, "across", across)
        self.same_step = bool_option(self.name, "same_step", same_step)
        self._judged_at: dict[int, int] = {}
        self._finished_noise: dict[int, float | None] = {}  # cache: finished curves
        # (trial id, last step) -> prediction: a curve up to a step never changes.
        self._predictions: dict[tuple[int, int], tuple[float, float, dict[str, float]] | None] = {}
        # (finished trial id, step) -> its standardised residual from the points up to step.
        self._backtests: dict[tuple[int, int], float | None] = {}

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
                    or self._judged_at.get(trial.id) == step):
                continue
            self._judged_at[trial.id] = step
            due.append(trial)
        if not due:
            return []
        noise = self._noise(history)
        done = self._finished(history)
        finished, predicted = self._pool(history, noise, done)
        # A running rival counts at a high quantile of its predicted final: an early,
        # steep curve predicts a low final with a wide spread, and at its mean it would
        # set a bar that stops everyone else.
        bars = {i: p.quantile(RIVAL_QUANTILE) for i, p in predicted.items()}
        out: list[Stop | Exploit] = []
        for trial in due:
            stop, own = None, None
            rivals = sorted([*finished.values(), *(b for i, b in bars.items() if i != trial.id)])
            if trial.id in predicted and len(rivals) >= self.top_k:
                own = predicted[trial.id].cdf(rivals[self.top_k - 1])
                stop = self._judge(history, trial, predicted[trial.id],
                                   rivals[self.top_k - 1], len(finished), noise)
            # The same-step judgement assumes the trial moves as the finished curves
            # moved; not when its own curve says it more likely than not makes the top k.
            if stop is None and self.same_step and (own is None or own < 0.5):
                stop = self._same_step(history, trial, done[-CALIBRATION_POOL:])
            if stop is not None:
                out.append(stop)
        return out

    def _headline(self, objective: Any, predicted: float, sd: float, threshold: float,
                  p_better: float) -> str:
        """The start of a stop's reason: the predicted final, the bar and the chance."""
        relation = "<" if objective.mode == "min" else ">"
        return (f"predicted final {objective.metric} {fmt(predicted)} ± {fmt(sd)} at step "
                f"{self.max_steps}; needs {relation} {fmt(threshold)} to enter the top "
                f"{self.top_k} (P = {_below(p_better, self.probability)} < {self.probability:g}")

    def _finished(self, history: History) -> list[TrialView]:
        """The trials that reached the horizon, in the History's order."""
        return [t for t in history.trials if t.curve and t.curve[-1][0] >= self.max_steps]

    def _final(self, history: History, t: TrialView) -> float:
        """A finished trial's value at the horizon, as a loss."""
        return loss(history.objective, next(v for s, v in t.curve if s >= self.max_steps))

    def _same_step(self, history: History, trial: TrialView,
                   done: list[TrialView]) -> Stop | None:
        """Judge the trial at its latest step against its rivals at that same step:
        it must overtake the k-th best of them by the horizon, and how far a curve
        moves from this step to the horizon is read from the finished curves `done`."""
        objective = history.objective
        step, raw = trial.curve[-1]
        value = loss(objective, raw)
        if not math.isfinite(value):
            return None  # divergence's and the engine's
        moves = []
        for d in done:
            then = first_at_or_after(d, step)
            if then is not None:
                move = self._final(history, d) - loss(objective, then[1])
                if math.isfinite(move):
                    moves.append(move)
        if len(moves) < SAME_STEP_MIN:
            return None
        rivals = []
        for r in history.trials:
            point = first_at_or_after(r, step) if r.id != trial.id and r.curve else None
            if point is not None:
                rivals.append(loss(objective, point[1]))
        if len(rivals) < self.top_k:
            return None
        kth = sorted(rivals)[self.top_k - 1]
        shift = float(np.mean(moves))
        spread = float(np.std(moves, ddof=1))
        # Both curves move by a draw from the finished curves' moves: the trial ends
        # ahead of that rival when its move beats the rival's by the gap between them.
        gap = value - kth
        if spread > 0:
            # Student's t with the moves' degrees of freedom: honest with few of them.
            from scipy.special import stdtr  # loaded on first use, as in Predictive

            p_better = float(stdtr(len(moves) - 1, -gap / (math.sqrt(2.0) * spread)))
        else:
            p_better = 1.0 if gap < 0 else 0.0
        if p_better >= self.probability:
            return None
        sign = 1.0 if objective.mode == "min" else -1.0
        predicted, threshold = sign * (value + shift), sign * (kth + shift)
        return Stop(
            trial_id=trial.id,
            rule=self.name,
            reason=(
                f"{self._headline(objective, predicted, spread, threshold, p_better)}; at "
                f"step {step} it is at {fmt(sign * value)}, the {_ordinal(self.top_k)} best of "
                f"{len(rivals)} other trials then at {fmt(sign * kth)}, and {len(moves)} "
                f"finished curves moved by {fmt(sign * shift)} ± {fmt(spread)} from there)"
            ),
            details={
                "step": step,
                "value": raw,
                "threshold": threshold,
                "predicted": predicted,
                "predicted_sd": spread,
                "probability": p_better,
                "top_k": self.top_k,
                "horizon": self.max_steps,
                "finished": len(moves),
                "stage": "same step",
                "kth_at_step": sign * kth,
                "population": len(rivals) + 1,
                "move": sign * shift,
            },
        )

    def _pool(self, history: History, noise: float, done: list[TrialView]) -> tuple[
            dict[int, float], dict[int, Predictive]]:
        """What a trial must beat: the final losses of the trials that reached the
        horizon (`done`), and the predicted final losses of the running ones (protected
        included)."""
        finished = {t.id: self._final(history, t) for t in done}
        recent = done[-CALIBRATION_POOL:]
        predicted: dict[int, Predictive] = {}
        objective = history.objective
        residuals: dict[int, np.ndarray | None] = {}  # per step
        for t in history.trials:
            if t.curve and t.id not in finished and t.is_active \
                    and t.curve[-1][0] >= self.min_steps:
                step = t.curve[-1][0]
                options = []
                found = self._predict(t, objective, noise)
                if found is not None:
                    if step not in residuals:
                        residuals[step] = self._residuals(history, step, noise, recent)
                    options.append(Predictive(*found, residuals=residuals[step]))
                across = self._across(history, t, step, recent)
                if across is not None:
                    options.append(across)
                if options:  # the sharper of the two, each calibrated on finished curves
                    predicted[t.id] = min(options, key=lambda p: p.spread())
        return finished, predicted

    def _across(self, history: History, t: TrialView, step: int,
                done: list[TrialView]) -> Predictive | None:
        """The cross-curve prediction: how the finished curves `done` that were where
        this one is at this step ended (None before ACROSS_MIN (or `calibrate`) of them)."""
        if not self.across or not math.isfinite(value := loss(history.objective,
                                                                   t.curve[-1][1])):
            return None
        pairs = []
        for d in done:
            at = [v for s, v in d.curve if s <= step]
            if at:
                x, f = loss(history.objective, at[-1]), self._final(history, d)
                if math.isfinite(x) and math.isfinite(f):
                    pairs.append((x, f))
        if len(pairs) < max(self.calibrate, ACROSS_MIN):
            return None
        xs, fs = np.array(pairs).T
        found = cross_curve(xs, fs, value)
        if found is None:
            return None
        mean, sd, z = found
        return Predictive(mean, sd, {"cross-curve": 1.0}, residuals=z)

    def _predict(self, t: TrialView, objective: Any, noise: float,
                 up_to: int | None = None) -> tuple[float, float, dict[str, float]] | None:
        """The model's prediction from the trial's points up to a step (its last one)."""
        key = (t.id, t.curve[-1][0] if up_to is None else up_to)
        if key not in self._predictions:
            points = [(s, v) for s, v in t.curve if s <= key[1]]
            steps = np.array([s for s, _ in points], float)
            losses = np.array([loss(objective, v) for _, v in points])
            self._predictions[key] = (
                extrapolate(steps, losses, float(self.max_steps), noise)
                if len(points) >= 3 and np.all(np.isfinite(losses)) else None)
        return self._predictions[key]

    def _residuals(self, history: History, step: int, noise: float,
                   done: list[TrialView]) -> np.ndarray | None:
        """The standardised residuals of the model on the finished curves `done`, each
        cut at `step`; None while fewer than `calibrate` are at hand."""
        if self.calibrate == 0:
            return None
        zs = []
        for t in done:
            key = (t.id, step)
            if key not in self._backtests:
                final = self._final(history, t)
                found = self._predict(t, history.objective, noise, up_to=step)
                z = None
                if found is not None and math.isfinite(final):
                    mean, sd, _ = found
                    z = (final - mean) / sd if sd > 0 else 0.0
                self._backtests[key] = z if z is None or math.isfinite(z) else None
            if self._backtests[key] is not None:
                zs.append(self._backtests[key])
        return np.array(zs, float) if len(zs) >= self.calibrate else None

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

    def _judge(self, history: History, trial: TrialView, prediction: Predictive, kth: float,
               n_finished: int, noise: float) -> Stop | None:
        objective = history.objective
        if not (math.isfinite(prediction.mean) and math.isfinite(prediction.sd)):
            return None  # nothing to explain a stop with
        p_better = prediction.cdf(kth)
        if p_better >= self.probability:
            return None
        # What the reason shows: the median and half the 16-84% range of the
        # (calibrated) predictive distribution; the model's own mean and sd when
        # not calibrated.
        median = prediction.quantile(0.5)
        sd = prediction.spread()
        step = trial.last_step
        sign = 1.0 if objective.mode == "min" else -1.0
        predicted, threshold = sign * median, sign * kth
        if "cross-curve" in prediction.weights:
            calibrated = (f", by where {prediction.calibrated} finished curves went from "
                          f"their value then")
        else:
            calibrated = (f", calibrated on {prediction.calibrated} finished curves"
                          if prediction.calibrated else "")
        return Stop(
            trial_id=trial.id,
            rule=self.name,
            reason=(
                f"{self._headline(objective, predicted, sd, threshold, p_better)}; from "
                f"{len(trial.curve)} points up to step {step}{calibrated})"
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
                "calibrated_on": prediction.calibrated,
                "model_mean": sign * prediction.mean,
                "model_sd": prediction.sd,
                **{f"weight {name}": round(w, 3) for name, w in prediction.weights.items()},
            },
        )
