"""The stopping-rule interface and the small helpers every rule shares.

A stopping rule is a pure algorithm in the Optuna-pruner / Ray-scheduler mould: it
reads a frozen :class:`~tuitune.core.history.History` and returns decisions (stop this
trial, or replace it by a clone of that one). The engine alone acts on them.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from typing import Any, ClassVar

from tuitune.core.decisions import Exploit, Stop
from tuitune.core.history import History, Objective, TrialView
from tuitune.core.space import Space


class StoppingRule(ABC):
    """Base class of early-stopping rules (and of population based training).

    Subclasses set `name` (the key in specs and in `Stop.rule`) and `options` (the
    option names `make_rules` accepts), and implement `decide`.
    """

    name: ClassVar[str]
    #: Option names accepted in a spec; `from_options` passes them as keywords.
    options: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def decide(self, history: History) -> list[Stop | Exploit]:
        """Return the decisions this history calls for.

        Called by the engine about once a second, with a fresh snapshot, whenever
        new metric points arrived. The engine acts on a decision once and ignores
        repeats for a trial it already stopped, so a rule may return the same
        decision again; it must never return one for a protected trial or for a
        trial that is not running.
        """

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], *, space: Space, max_steps: int | None, seed: int
    ) -> StoppingRule:
        """Build the rule from spec options (already checked against `options`).

        Rules that need the space, the budget's max steps or a seed override this.
        """
        return cls(**options)


# -- what a rule may look at -------------------------------------------------------


def candidates(history: History) -> list[TrialView]:
    """Running (or paused) trials that may be stopped: unprotected, with points."""
    return [t for t in history.running if not t.protected and t.curve]


def loss(objective: Objective, value: float) -> float:
    """Smaller is better; NaN and the wrong infinity rank last."""
    if math.isnan(value):
        return math.inf
    return objective.to_loss(value)


def steps_of(trial: TrialView) -> list[int]:
    return [s for s, _ in trial.curve]


def first_at_or_after(trial: TrialView, step: int) -> tuple[int, float] | None:
    """The first point reported at `step` or later (how a trial *reaches* a step)."""
    i = bisect_left(trial.curve, step, key=lambda p: p[0])
    return trial.curve[i] if i < len(trial.curve) else None


def values_up_to(trial: TrialView, step: int) -> list[float]:
    """Objective values reported at steps <= `step`."""
    i = bisect_right(trial.curve, step, key=lambda p: p[0])
    return [v for _, v in trial.curve[:i]]


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
