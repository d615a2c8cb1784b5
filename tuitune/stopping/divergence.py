"""Divergence: stop a trial at once when its objective goes NaN/inf or explodes.

Not a comparison with other trials, so it needs no population and no grace
period: a NaN loss never recovers, and every step spent on it is wasted.
"""

from __future__ import annotations

import math

from tuitune.core.decisions import Exploit, Stop
from tuitune.core.history import DIVERGED, History, TrialView
from tuitune.core.options import choice_option, float_option, int_option
from tuitune.stopping.base import StoppingRule, candidates, fmt

REFERENCES = ("first", "best")


class DivergenceRule(StoppingRule):
    """Stop (state "diverged") on a non-finite value or an exploding loss.

    Args:
        factor: for "min" objectives, the loss exploded when the last `window`
            points are all above factor x the reference value. Only meaningful
            for positive losses, so it is skipped when the reference is <= 0, and
            for "max" objectives only NaN/inf count.
        window: how many consecutive exploded points it takes (1: the first).
        reference: "first" (the trial's first finite value: its starting loss) or
            "best" (its best so far: stricter).
    """

    name = "divergence"
    options = frozenset({"factor", "window", "reference"})

    def __init__(self, factor: float = 10.0, window: int = 1, reference: str = "first") -> None:
        self.factor = float_option(self.name, "factor", factor, 1.0, open_low=True)
        self.window = int_option(self.name, "window", window, 1)
        self.reference = choice_option(self.name, "reference", reference, REFERENCES)

    def decide(self, history: History) -> list[Stop | Exploit]:
        out: list[Stop | Exploit] = []
        for trial in candidates(history):
            stop = self._non_finite(history, trial) or self._exploded(history, trial)
            if stop is not None:
                out.append(stop)
        return out

    def _non_finite(self, history: History, trial: TrialView) -> Stop | None:
        # Any point, not just the last: a NaN reported between two polls still counts.
        for step, value in trial.curve:
            if not math.isfinite(value):
                return Stop(
                    trial_id=trial.id,
                    rule=self.name,
                    reason=f"diverged: {history.objective.metric} is {value} at step {step}",
                    state=DIVERGED,
                    details={"step": step, "value": value},
                )
        return None

    def _exploded(self, history: History, trial: TrialView) -> Stop | None:
        if history.objective.mode != "min" or len(trial.curve) < self.window + 1:
            return None
        # The curve is finite here (_non_finite ran first).
        if self.reference == "first":
            ref = trial.curve[0][1]
        else:
            ref = min(v for _, v in trial.curve[: -self.window])
        if ref <= 0:
            return None
        threshold = self.factor * ref
        tail = trial.curve[-self.window :]
        if not all(v > threshold for _, v in tail):
            return None
        step, value = tail[-1]
        metric = history.objective.metric
        return Stop(
            trial_id=trial.id,
            rule=self.name,
            reason=(
                f"diverged: {metric} {fmt(value)} at step {step} is over {self.factor:g}x its "
                f"{self.reference} value {fmt(ref)} (threshold {fmt(threshold)})"
            ),
            state=DIVERGED,
            details={
                "step": step,
                "value": value,
                "threshold": threshold,
                "reference": ref,
                "factor": self.factor,
                "window": self.window,
            },
        )
