"""Asynchronous successive halving (ASHA) and its Hyperband generalisation.

Rungs sit at ``min_steps * reduction_factor**k`` on the trial's own step axis
(epochs or steps, whatever it reports). When a trial first reaches a rung it is
judged once, against every trial that has reached that rung so far (any state,
hand-run trials included): it continues if it is in the top ``1/reduction_factor``
of them (ties continue, and at least one always continues), otherwise it stops.
This is Li et al. 2020 ("A System for Massively Parallel Hyperparameter Tuning")
as Optuna's SuccessiveHalvingPruner implements it. A rung at ``max_steps`` is the
trial's completion and is never judged.

Hyperband (Li et al. 2018) runs several ASHA brackets with larger minimum
resources; trials are dealt to brackets by id with the paper's bracket sizes as
weights, so the assignment survives a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tuitune.core.decisions import Exploit, Stop
from tuitune.core.history import History, TrialView
from tuitune.core.space import Space
from tuitune.core.options import int_option
from tuitune.stopping.base import StoppingRule, first_at_or_after, fmt, loss


def rung_steps(min_steps: int, eta: int, limit: int) -> list[int]:
    """``min_steps * eta**k`` for every k with the result <= limit."""
    out, r = [], min_steps
    while r <= limit:
        out.append(r)
        r *= eta
    return out


def _check(rule: str, min_steps: Any, eta: Any, max_steps: Any, min_trials: Any) -> None:
    int_option(rule, "min_steps", min_steps, 1)
    int_option(rule, "reduction_factor", eta, 2)
    int_option(rule, "min_trials", min_trials, 1)
    if max_steps is not None and int_option(rule, "max_steps", max_steps, 1) < min_steps:
        raise ValueError(f"{rule}: max_steps {max_steps} is below min_steps {min_steps}")


class ASHA(StoppingRule):
    """Asynchronous successive halving.

    Args:
        min_steps: the first rung (the least a trial runs before it can be stopped).
        reduction_factor: eta; a trial continues past a rung if in the top 1/eta.
        max_steps: the budget's steps per trial; None takes `History.max_steps`,
            and with neither the rungs go on without end.
        min_trials: judge a rung only once this many trials reached it (1: from
            the first; a larger value stops nothing while a rung is thin).
    """

    name = "asha"
    options = frozenset({"min_steps", "reduction_factor", "max_steps", "min_trials"})

    def __init__(
        self,
        min_steps: int = 1,
        reduction_factor: int = 3,
        max_steps: int | None = None,
        min_trials: int = 1,
    ) -> None:
        _check(self.name, min_steps, reduction_factor, max_steps, min_trials)
        self.min_steps, self.eta = int(min_steps), int(reduction_factor)
        self.max_steps, self.min_trials = max_steps, int(min_trials)
        # Per trial, how many of its rungs were judged: the only state, so a rung
        # is judged once, when the trial reaches it, as in Optuna's pruner.
        self._judged: dict[int, int] = {}
        self._values: dict[tuple[int, int], dict[int, float]] = {}  # cache, see _reached
        self._swept: dict[tuple[int, int], History] = {}

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], *, space: Space, max_steps: int | None, seed: int
    ) -> StoppingRule:
        return cls(**{"max_steps": max_steps, **options})

    def rungs(self, max_steps: int | None = None) -> list[int]:
        """All rung steps up to max_steps (the last may equal it: completion)."""
        top = max_steps if max_steps is not None else self.max_steps
        if top is None:
            raise ValueError("asha: rungs are unbounded without max_steps")
        return rung_steps(self.min_steps, self.eta, top)

    # Hooks Hyperband overrides: which rungs and which rivals a trial has.
    def _min_steps_for(self, trial: TrialView) -> int:
        return self.min_steps

    def _rungs_for(self, trial: TrialView, limit: int) -> list[int]:
        """The trial's rung steps up to `limit`, ascending."""
        return rung_steps(self._min_steps_for(trial), self.eta, limit)

    def _group(self, trial_id: int) -> int:
        """Trials are judged only against trials of their own group (bracket)."""
        return 0

    def _label(self, trial: TrialView) -> tuple[str, dict[str, Any]]:
        return "ASHA", {}

    def decide(self, history: History) -> list[Stop | Exploit]:
        max_steps = self.max_steps if self.max_steps is not None else history.max_steps
        out: list[Stop | Exploit] = []
        for trial in sorted(history.running, key=lambda t: t.id):
            if not trial.curve:
                continue
            last = trial.last_step or 0
            # Rungs strictly below max_steps: reaching max_steps is completion.
            limit = last if max_steps is None else min(last, max_steps - 1)
            rungs = self._rungs_for(trial, limit)
            done = self._judged.get(trial.id, 0)
            while done < len(rungs):
                step, done = rungs[done], done + 1
                if trial.protected:
                    continue  # it passes; unprotecting takes effect from its next rung
                stop = self._judge(history, trial, done, step)
                if stop is not None:
                    out.append(stop)
                    break
            self._judged[trial.id] = done
        return out

    def _judge(self, history: History, trial: TrialView, rung: int, step: int) -> Stop | None:
        objective = history.objective
        point = first_at_or_after(trial, step)
        if point is None:
            return None
        reached = self._reached(history, self._group(trial.id), step)
        values = np.fromiter(reached.values(), dtype=float, count=len(reached))
        if len(values) < self.min_trials:
            return None
        losses = values if objective.mode == "min" else -values
        losses = np.where(np.isnan(losses), np.inf, losses)
        keep = max(1, len(values) // self.eta)
        kth = int(np.argpartition(losses, keep - 1)[keep - 1])
        threshold, value = float(values[kth]), point[1]
        mine = loss(objective, value)
        if mine <= losses[kth]:
            return None
        label, extra = self._label(trial)
        return Stop(
            trial_id=trial.id,
            rule=self.name,
            reason=(
                f"{label} rung {rung} (step {step}): {objective.metric} {fmt(value)} not in "
                f"top 1/{self.eta} of {len(values)} (threshold {fmt(threshold)})"
            ),
            details={
                "rung": rung,
                "step": step,
                "reported_step": point[0],
                "value": value,
                "threshold": threshold,
                "rank": 1 + int(np.sum(losses < mine)),
                "population": len(values),
                "keep": keep,
                "reduction_factor": self.eta,
                **extra,
            },
        )

    def _reached(self, history: History, group: int, step: int) -> dict[int, float]:
        """Trial id -> its value on reaching `step`, for the group's trials that did.

        A cache, not state: once a trial has reported past a step, its value there
        never changes, so each snapshot only adds the trials not yet known.
        """
        key = (group, step)
        known = self._values.setdefault(key, {})
        if self._swept.get(key) is not history:
            for t in history.trials:
                if t.id not in known and t.curve and t.curve[-1][0] >= step:
                    if self._group(t.id) == group:
                        known[t.id] = first_at_or_after(t, step)[1]  # type: ignore[index]
            self._swept[key] = history
        return known


def hyperband_brackets(min_steps: int, max_steps: int, eta: int) -> list[tuple[int, int]]:
    """(minimum steps, size) per bracket, most aggressive first (Li et al. 2018).

    With s_max = floor(log_eta(max/min)), bracket s = s_max..0 starts at
    max * eta**-s steps with ceil((s_max + 1) / (s + 1) * eta**s) trials, so every
    bracket spends about the same budget.
    """
    s_max = len(rung_steps(min_steps, eta, max_steps)) - 1
    out = []
    for b in range(s_max + 1):
        s = s_max - b
        size = -(-(s_max + 1) * eta**s // (s + 1))  # integer ceil
        # From the budget down, not from min_steps up: when max/min is not a power of
        # eta (12 epochs, eta 3), min * eta**s_max (9) falls short of max_steps, and
        # the last bracket would stop trials instead of running them all to the end.
        out.append((max(min_steps, max_steps // eta**s), size))
    return out


def _weighted_round_robin(weights: list[int]) -> list[int]:
    """One cycle of smooth weighted round robin: bracket indices, interleaved."""
    total, current, order = sum(weights), [0] * len(weights), []
    for _ in range(total):
        current = [c + w for c, w in zip(current, weights, strict=True)]
        i = max(range(len(weights)), key=lambda j: (current[j], -j))
        current[i] -= total
        order.append(i)
    return order


class Hyperband(ASHA):
    """Asynchronous Hyperband: ASHA brackets with minimum steps min*eta^b.

    A trial's bracket is ``cycle[trial.id % len(cycle)]`` where the cycle deals the
    brackets in proportion to their Hyperband sizes; it is judged only against
    trials of its own bracket. The last bracket starts at max_steps and so never
    stops anything (plain random search's slot).
    """

    name = "hyperband"

    def __init__(
        self,
        min_steps: int = 1,
        reduction_factor: int = 3,
        max_steps: int | None = None,
        min_trials: int = 1,
    ) -> None:
        if max_steps is None:
            raise ValueError("hyperband: needs max_steps (set the budget's or the rule's)")
        super().__init__(min_steps, reduction_factor, max_steps, min_trials)
        self.brackets = hyperband_brackets(self.min_steps, int(max_steps), self.eta)
        self._cycle = _weighted_round_robin([size for _, size in self.brackets])

    def bracket_of(self, trial_id: int) -> int:
        return self._cycle[trial_id % len(self._cycle)]

    def _min_steps_for(self, trial: TrialView) -> int:
        return self.brackets[self.bracket_of(trial.id)][0]

    def _group(self, trial_id: int) -> int:
        return self.bracket_of(trial_id)

    def _label(self, trial: TrialView) -> tuple[str, dict[str, Any]]:
        b = self.bracket_of(trial.id)
        return f"Hyperband bracket {b}", {"bracket": b, "bracket_min_steps": self.brackets[b][0]}
