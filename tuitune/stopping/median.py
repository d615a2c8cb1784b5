"""The median stopping rule (Google Vizier; Optuna's MedianPruner; Ray's MedianStoppingRule).

At each step a trial reports past its grace period, its best value so far is
compared with the median, over the other trials that reached that step, of their
running averages up to that step (Vizier) or of their best values up to it
(Optuna). A trial strictly worse than that median stops.
"""

from __future__ import annotations

import numpy as np

from tuitune.core.decisions import Exploit, Stop
from tuitune.core.history import History, TrialView
from tuitune.core.options import choice_option, int_option
from tuitune.stopping.base import StoppingRule, candidates, fmt, loss, values_up_to

STATISTICS = ("mean", "best")


class MedianRule(StoppingRule):
    """Stop a trial whose best so far is worse than the median of its rivals.

    Args:
        grace_steps: no decision before a trial reported this step (alias min_steps).
        min_trials: at least this many other trials must have reached the step.
        statistic: "mean" (rivals' running averages, Vizier) or "best" (rivals'
            best so far, Optuna).
    """

    name = "median"
    options = frozenset({"grace_steps", "min_steps", "min_trials", "statistic"})

    def __init__(
        self,
        grace_steps: int = 1,
        min_trials: int = 3,
        statistic: str = "mean",
        min_steps: int | None = None,
    ) -> None:
        if min_steps is not None:
            grace_steps = min_steps  # the name ASHA uses for the same idea
        self.grace_steps = int_option(self.name, "grace_steps", grace_steps, 0)
        self.min_trials = int_option(self.name, "min_trials", min_trials, 1)
        self.statistic = choice_option(self.name, "statistic", statistic, STATISTICS)
        # The step each trial was last judged at: a rule judges a step once, and
        # this spares rescanning every curve when no new point arrived.
        self._judged_at: dict[int, int] = {}
        self._stats: dict[int, dict[int, float]] = {}  # cache, see _stats_at
        self._swept: dict[int, History] = {}

    def decide(self, history: History) -> list[Stop | Exploit]:
        out: list[Stop | Exploit] = []
        for trial in candidates(history):
            step = trial.last_step
            if step is None or step < self.grace_steps or self._judged_at.get(trial.id) == step:
                continue
            self._judged_at[trial.id] = step
            stop = self._judge(history, trial, step)
            if stop is not None:
                out.append(stop)
        return out

    def _stats_at(self, history: History, step: int) -> dict[int, float]:
        """Trial id -> its statistic up to `step` (as a loss), for trials that reached it.

        A cache, not state: once a trial has reported at or past a step, its points
        up to that step never change, so each snapshot only adds unknown trials.
        """
        known = self._stats.setdefault(step, {})
        if self._swept.get(step) is history:
            return known
        objective = history.objective
        for t in history.trials:
            if t.id in known or not t.curve or t.curve[-1][0] < step:
                continue
            losses = [loss(objective, v) for v in values_up_to(t, step)]
            if not losses:
                continue  # its first point came after the step
            if self.statistic == "best":
                known[t.id] = min(losses)
            else:  # one NaN (an inf loss) makes the running average inf
                known[t.id] = float(np.mean(losses)) if all(map(np.isfinite, losses)) else np.inf
        self._swept[step] = history
        return known

    def _judge(self, history: History, trial: TrialView, step: int) -> Stop | None:
        objective = history.objective
        best = objective.best(values_up_to(trial, step))
        if best is None:
            return None  # only NaN/inf so far: the divergence rule's call
        rivals = [v for i, v in self._stats_at(history, step).items() if i != trial.id]
        if len(rivals) < self.min_trials:
            return None
        median_loss = float(np.median(rivals))
        if loss(objective, best) <= median_loss:
            return None
        median = median_loss if objective.mode == "min" else -median_loss
        what = "running averages" if self.statistic == "mean" else "best values"
        return Stop(
            trial_id=trial.id,
            rule=self.name,
            reason=(
                f"median rule at step {step}: best {objective.metric} {fmt(best)} worse than "
                f"the median {fmt(median)} of {len(rivals)} trials' {what}"
            ),
            details={
                "step": step,
                "value": best,
                "threshold": median,
                "population": len(rivals),
                "statistic": self.statistic,
                "quantile": 0.5,
            },
        )
