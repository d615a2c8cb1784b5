"""Frozen snapshots of a run's trials, handed to search algorithms and stopping rules.

They cross the boundary between the engine (which reads the store) and the pure
algorithms (which only return decisions), so they are immutable and hold plain data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tuitune.core.trial_state import (  # noqa: F401 - the state vocabulary, re-exported
    ACTIVE_STATES,
    FAILED_STATES,
    FINISHED_STATES,
    LIVE_STATES,
    STOPPED_STATES,
    TrialState,
)

#: The states by their short names: the enum's own members (core/trial_state.py).
QUEUED, RUNNING, PAUSED = TrialState.QUEUED, TrialState.RUNNING, TrialState.PAUSED
COMPLETED, FAILED, KILLED = TrialState.COMPLETED, TrialState.FAILED, TrialState.KILLED
PRUNED, DIVERGED = TrialState.PRUNED, TrialState.DIVERGED
TIMED_OUT, LOST = TrialState.TIMED_OUT, TrialState.LOST
ALL_STATES = frozenset(TrialState)


@dataclass(frozen=True)
class Objective:
    metric: str
    mode: str = "min"  # "min" or "max"

    def better(self, a: float, b: float) -> bool:
        return a < b if self.mode == "min" else a > b

    def best(self, values: Sequence[float]) -> float | None:
        finite = [v for v in values if math.isfinite(v)]
        if not finite:
            return None
        return min(finite) if self.mode == "min" else max(finite)

    def to_loss(self, value: float) -> float:
        """Map a value so that smaller is better (what searchers minimise)."""
        return value if self.mode == "min" else -value


#: What a constraint may say: the value must be at most, or at least, the bound.
CONSTRAINT_OPS = ("<=", ">=")


@dataclass(frozen=True)
class Constraint:
    """`metric <= bound` or `metric >= bound` (spec: [objective] constraints)."""

    metric: str
    op: str
    bound: float

    def violation(self, value: float | None) -> float:
        """How far `value` is past the bound (<= 0: met); NaN when it is unknown."""
        if value is None or not math.isfinite(value):
            return math.nan
        return value - self.bound if self.op == "<=" else self.bound - value

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


@dataclass(frozen=True)
class ParamChange:
    """A tweak: `name` held `value` from `step` on (step is None until the trial applied it)."""

    name: str
    value: Any
    step: int | None


@dataclass(frozen=True)
class TrialView:
    """One trial as algorithms see it.

    Attributes:
        params: the parameters the trial started with.
        changes: tweaks applied while it ran, in order.
        curve: (step, objective value) points, in step order.
        value: the trial's result for the search: its best objective value so far
            (None if it reported none, or only non-finite values).
        protected: the user protected it from stopping rules.
    """

    id: int
    state: TrialState
    params: Mapping[str, Any]
    origin: str = "manual"
    parent_id: int | None = None
    changes: tuple[ParamChange, ...] = ()
    curve: tuple[tuple[int, float], ...] = ()
    value: float | None = None
    protected: bool = False
    started_at: float | None = None
    ended_at: float | None = None
    has_checkpoint: bool = False
    #: The last value of each metric that a further objective or a constraint names
    #: (built-in measures included), for several objectives and constraints.
    extras: Mapping[str, float] = field(default_factory=dict)

    @property
    def last_step(self) -> int | None:
        return self.curve[-1][0] if self.curve else None

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES

    def value_at(self, step: int) -> float | None:
        """The latest objective value reported at or before `step`."""
        best = None
        for s, v in self.curve:
            if s > step:
                break
            best = v
        return best

    def effective_params(self) -> dict[str, Any]:
        """The parameters a search should attribute this trial's result to.

        A tweaked trial ran a schedule, not one point. Policy: each parameter takes
        the value that held for the most steps (ties go to the later value). See
        docs/search.md.
        """
        return dominant_params(self.params, self.changes, self.last_step)


def applied_changes(changes: Sequence[ParamChange]) -> list[ParamChange]:
    """The tweaks a trial applied (a pending one has no step yet), in step order."""
    applied = [c for c in changes if c.step is not None]
    return sorted(applied, key=lambda c: c.step)  # type: ignore[arg-type,return-value]


def current_params(initial: Mapping[str, Any], changes: Sequence[ParamChange]) -> dict[str, Any]:
    """What a trial runs with now: what it started with, plus the tweaks it applied.
    The one place this is computed (the store, PBT and the TUI all ask here)."""
    out = dict(initial)
    for c in applied_changes(changes):
        out[c.name] = c.value
    return out


def plain_value(value: Any) -> str:
    """A parameter value in full (no rounding: what was typed is what is shown)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe_params(initial: Mapping[str, Any], changes: Sequence[ParamChange] = (),
                    value: Callable[[Any], str] = plain_value,
                    names: Sequence[str] | None = None) -> str:
    """A trial's parameters as it ran them: `lr 1.166 → 0.02 @45 units=8`: a tweaked
    parameter shows what it started with and each change with the step it held from;
    the others `name=value`. Everywhere a trial's parameters are shown uses this."""
    return " ".join(describe_param(n, initial.get(n), changes, value)
                    for n in (names if names is not None else list(initial)))


def describe_param(name: str, start: Any, changes: Sequence[ParamChange],
                   value: Callable[[Any], str] = plain_value) -> str:
    """`lr=0.01`, or `lr 1.166 → 0.02 @45` when it was tweaked."""
    tweaked = any(c.name == name for c in applied_changes(changes))
    text = param_values(name, start, changes, value)
    return f"{name} {text}" if tweaked else f"{name}={text}"


def param_values(name: str, start: Any, changes: Sequence[ParamChange],
                 value: Callable[[Any], str] = plain_value) -> str:
    """`0.01`, or `1.166 → 0.02 @45`: the start and each applied change with its step."""
    steps = [c for c in applied_changes(changes) if c.name == name]
    return value(start) + "".join(f" → {value(c.value)} @{c.step}" for c in steps)


def dominant_params(
    initial: Mapping[str, Any], changes: Sequence[ParamChange], last_step: int | None
) -> dict[str, Any]:
    """For each parameter, the value that held for the largest number of steps."""
    out = dict(initial)
    applied = [(c.name, c.step, c.value) for c in changes if c.step is not None]
    if not applied:
        return out
    end = last_step if last_step is not None else max(step for _, step, _ in applied)
    for name in {n for n, _, _ in applied}:
        segments: list[tuple[int, Any]] = [(0, initial.get(name))]
        segments += [(step, value) for n, step, value in applied if n == name]
        held: dict[int, tuple[int, Any]] = {}
        for i, (start, value) in enumerate(segments):
            stop = segments[i + 1][0] if i + 1 < len(segments) else max(end, start) + 1
            held[i] = (max(stop - start, 0), value)
        # Longest segment wins; on a tie the later segment (the user's latest intent).
        best_i = max(held, key=lambda i: (held[i][0], i))
        out[name] = held[best_i][1]
    return out


@dataclass(frozen=True)
class History:
    """Everything an algorithm may know about a run, at one moment."""

    objective: Objective
    trials: tuple[TrialView, ...] = ()
    now: float = 0.0
    max_steps: int | None = None
    #: Every objective, the first being `objective`; empty means just that one.
    objectives: tuple[Objective, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    _by_id: dict[int, TrialView] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {t.id: t for t in self.trials})

    def get(self, trial_id: int) -> TrialView | None:
        return self._by_id.get(trial_id)

    @property
    def running(self) -> tuple[TrialView, ...]:
        return tuple(t for t in self.trials if t.state in LIVE_STATES)

    @property
    def pending(self) -> tuple[TrialView, ...]:
        """Trials whose result is not known yet (queued, running, paused)."""
        return tuple(t for t in self.trials if t.state in ACTIVE_STATES)

    @property
    def completed(self) -> tuple[TrialView, ...]:
        return tuple(t for t in self.trials if t.state == COMPLETED)

    def observations(self) -> list[tuple[dict[str, Any], float]]:
        """(effective params, value) for every finished trial that produced a value.

        Completed, pruned, killed and timed-out trials with a finite value count: a
        pruned trial's best value is pessimistic for its config, which is the right
        bias for a search. Diverged trials are imputed later by the searcher.
        """
        out = []
        for t in self.trials:
            if t.is_finished and t.value is not None and math.isfinite(t.value):
                out.append((t.effective_params(), t.value))
        return out

    @property
    def all_objectives(self) -> tuple[Objective, ...]:
        return self.objectives or (self.objective,)

    def values_of(self, trial: TrialView) -> tuple[float, ...]:
        """The trial's value for each objective: its best for the first (as
        `value`), the last reported for the others; NaN where there is none."""
        first = trial.value if trial.value is not None else math.nan
        rest = (trial.extras.get(o.metric, math.nan) for o in self.all_objectives[1:])
        return (first, *rest)

    def violations_of(self, trial: TrialView) -> tuple[float, ...]:
        """Each constraint's violation for the trial (<= 0: met; NaN: unknown)."""
        return tuple(c.violation(trial.extras.get(c.metric)) for c in self.constraints)

    def outcomes(self) -> list[tuple[dict[str, Any], tuple[float, ...], tuple[float, ...]]]:
        """As `observations`, with every objective's value and each constraint's
        violation: (effective params, values, violations)."""
        return [
            (t.effective_params(), self.values_of(t), self.violations_of(t))
            for t in self.trials
            if t.is_finished and t.value is not None and math.isfinite(t.value)
        ]
