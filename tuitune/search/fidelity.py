"""What a model-based search learns from trials that early stopping cut short.

A pruned trial's best value so far measures how fast it learns, not where it ends:
on curves that cross, fitting a model on those values teaches it that fast
learners are good (the short-horizon bias). So, as BOHB does, the model is fit on
values at one common fidelity: the highest step that at least `min_trials` trials
reached (completed trials reached every step). Each trial is worth its best value
up to that step. A trial stopped below it is not dropped (the model would keep
proposing the unexplored places such trials sit in) but imputed: its value at the
common step is predicted from its value where it stopped, by a linear regression
fitted on the trials that reached both, with the regression's prediction
variance as the pseudo-observation's extra noise (see `impute`). So the model
trusts early values exactly as much as they predicted later ones in this run. See
docs/search.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuitune.core.history import COMPLETED, DIVERGED, FAILED, History, Objective, TrialView


@dataclass(frozen=True)
class Stopped:
    """A trial that ended below the common fidelity, as the searcher holds it."""

    params: Mapping[str, Any]
    step: int  # the last step it reported
    value: float  # its best value up to that step (objective direction)


@dataclass(frozen=True)
class FidelityView:
    """A run's results at one common fidelity.

    Attributes:
        step: the common step; None for full fidelity (enough trials completed):
            then the trials that reached it count with their best value.
        reached: (effective params, best value up to `step`) of the trials that got there.
        stopped: trials that ended below `step` with a finite value.
        failed: effective params of diverged or failed trials without a finite value.
        references: for each step a stopped trial ended at, (value there, value at
            `step`) of every trial that reached `step`: what `impute` regresses on.
    """

    step: int | None
    reached: list[tuple[dict[str, Any], float]] = field(default_factory=list)
    stopped: list[Stopped] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    references: dict[int, list[tuple[float, float]]] = field(default_factory=dict)

    @property
    def censored(self) -> bool:
        """Whether early stopping cut some finished trial short: the common step is
        below full fidelity, or trials stopped below it."""
        return self.step is not None or bool(self.stopped)


def reach(trial: TrialView) -> float:
    """How far a trial got: its last step, or without end once it completed (or
    reported no curve, as a result told by hand)."""
    if trial.state == COMPLETED or not trial.curve:
        return math.inf
    return float(trial.curve[-1][0])


def best_up_to(trial: TrialView, step: float, objective: Objective) -> float | None:
    """The trial's best finite value at steps <= `step` (its value if no curve)."""
    if not trial.curve:
        return trial.value
    return objective.best([v for s, v in trial.curve if s <= step])


def common_step(reaches: list[float], min_trials: int) -> float:
    """The highest step at least `min_trials` trials reached: infinite (full
    fidelity) when as many completed; the lowest step when no step has enough."""
    for step in sorted(set(reaches), reverse=True):
        if sum(r >= step for r in reaches) >= min_trials:
            return step
    return min(reaches, default=math.inf)


def fidelity_view(history: History, min_trials: int) -> FidelityView:
    """Split a run's finished trials by the common fidelity (see the module doc)."""
    objective = history.objective
    finished, failed = [], []
    for t in history.trials:
        if not t.is_finished:
            continue
        if t.state in (DIVERGED, FAILED):
            # Blowing up is bad at every fidelity: the worst value, as before.
            failed.append(t.effective_params())
        elif t.value is not None and math.isfinite(t.value):
            finished.append(t)
    common = common_step([reach(t) for t in finished], min_trials)
    view = FidelityView(None if math.isinf(common) else int(common), failed=failed)
    for t in finished:
        if reach(t) >= common:
            view.reached.append((t.effective_params(), best_up_to(t, common, objective)))  # type: ignore[arg-type]
        else:
            view.stopped.append(Stopped(t.effective_params(), int(reach(t)), float(t.value)))  # type: ignore[arg-type]
    ahead = [t for t in finished if reach(t) >= common]
    for last in sorted({s.step for s in view.stopped}):
        pairs = []
        for t in ahead:
            early, late = best_up_to(t, last, objective), best_up_to(t, common, objective)
            if early is not None and late is not None:
                pairs.append((early, late))
        view.references[last] = pairs
    return view


def impute(pairs: np.ndarray, early: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted late values (mean, variance) from early ones, by least squares on
    (early, late) `pairs` of the trials that reached both.

    Both the mean and the prediction variance are taken at the early value clipped
    to the range the pairs span: a trial stopped for being worse than every trial
    that went on is censored, known only to be at least that bad, so it is not
    extrapolated (an extrapolated variance made those trials weightless, and the
    model kept proposing where they sit). With fewer than
    three pairs there is no regression: the mean of the late values (0 with none)
    and a variance of at least 1 (the standardised prior's).
    """
    early = np.asarray(early, dtype=float)
    pairs = np.asarray(pairs, dtype=float).reshape(-1, 2)
    n = len(pairs)
    if n < 3:
        mean = float(np.mean(pairs[:, 1])) if n else 0.0
        var = max(float(np.var(pairs[:, 1])) if n > 1 else 1.0, 1.0)
        return np.full(len(early), mean), np.full(len(early), var)
    x, y = pairs[:, 0], pairs[:, 1]
    x_mean, y_mean = float(np.mean(x)), float(np.mean(y))
    sxx = float(np.sum((x - x_mean) ** 2))
    slope = float(np.sum((x - x_mean) * (y - y_mean))) / sxx if sxx > 0 else 0.0
    residual = y - (y_mean + slope * (x - x_mean))
    s2 = max(float(np.sum(residual**2)) / (n - 2), 1e-6)
    clipped = np.clip(early, float(np.min(x)), float(np.max(x)))
    mean = y_mean + slope * (clipped - x_mean)
    lever = (clipped - x_mean) ** 2 / sxx if sxx > 0 else np.zeros(len(early))
    return mean, s2 * (1.0 + 1.0 / n + lever)
