"""Patience: stop a trial that has not improved for N reported points (Keras's EarlyStopping)."""

from __future__ import annotations

from tuitune.core.decisions import Exploit, Stop
from tuitune.core.history import History, TrialView
from tuitune.core.options import float_option, int_option
from tuitune.stopping.base import StoppingRule, candidates, fmt, loss


class PatienceRule(StoppingRule):
    """Stop when `patience` reported points in a row failed to improve.

    Patience counts reported points, not step numbers, so it means epochs when
    the script reports per epoch and reports when it reports every N steps.

    Args:
        patience: points without improvement before stopping.
        min_delta: an improvement must beat the best so far by more than this.
    """

    name = "patience"
    options = frozenset({"patience", "min_delta"})

    def __init__(self, patience: int = 5, min_delta: float = 0.0) -> None:
        self.patience = int_option(self.name, "patience", patience, 1)
        self.min_delta = float_option(self.name, "min_delta", min_delta, 0.0)

    def decide(self, history: History) -> list[Stop | Exploit]:
        out: list[Stop | Exploit] = []
        for trial in candidates(history):
            stop = self._judge(history, trial)
            if stop is not None:
                out.append(stop)
        return out

    def _judge(self, history: History, trial: TrialView) -> Stop | None:
        if len(trial.curve) <= self.patience:
            return None
        objective = history.objective
        best_step, best = trial.curve[0]
        wait = 0
        for step, value in trial.curve[1:]:
            # As Keras: the best moves only on an improvement larger than min_delta.
            if loss(objective, value) < loss(objective, best) - self.min_delta:
                best_step, best, wait = step, value, 0
            else:
                wait += 1
        if wait < self.patience:
            return None
        step, value = trial.curve[-1]
        return Stop(
            trial_id=trial.id,
            rule=self.name,
            reason=(
                f"patience: no improvement of {objective.metric} for {wait} reports "
                f"(best {fmt(best)} at step {best_step}, now {fmt(value)} at step {step})"
            ),
            details={
                "step": step,
                "value": value,
                "threshold": best,
                "best_step": best_step,
                "patience": self.patience,
                "waited": wait,
                "min_delta": self.min_delta,
            },
        )
