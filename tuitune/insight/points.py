"""A run's finished trials as insight sees them: one value each at a common fidelity.

Early stopping cuts trials short, and a pruned trial's best value so far says how
fast it learned, not where it would end. As the Bayesian searcher does
(search/fidelity.py), values are compared at one common step: the highest step
that enough trials reached. Trials stopped below it, and trials that diverged or
failed, take part as the worst results (`rank` is infinite): they are never in
a top set, but they are part of the region every top set is compared against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tuitune.core.history import DIVERGED, FAILED, History, TrialState
from tuitune.search.fidelity import best_up_to, common_step, reach

from tuitune.insight.marks import PRUNED, mark_of


@dataclass(frozen=True)
class TrialPoint:
    """One finished trial.

    Attributes:
        params: its effective parameters (a tweaked trial's dominant values).
        value: its best objective value up to the common step (None when it never
            reached it, or has no finite value).
        loss: `value` mapped so that smaller is better; inf without a value.
        mark: hand, search, clone or pruned (stopped below the common step,
            diverged or failed).
    """

    id: int
    state: str
    origin: str
    params: dict[str, Any]
    value: float | None
    loss: float
    mark: str
    bad: bool  # diverged, failed or stopped early (the pruning boundary counts these)


def trial_points(history: History, min_trials: int = 3) -> tuple[list[TrialPoint], int | None]:
    """Finished trials at the common step; returns (points, common step or None for full)."""
    objective = history.objective
    finished = [t for t in history.trials if t.is_finished]
    usable = [t for t in finished if t.state not in (DIVERGED, FAILED)
              and t.value is not None and math.isfinite(t.value)]
    common = common_step([reach(t) for t in usable], min_trials) if usable else math.inf
    usable_ids = {t.id for t in usable}  # by id: comparing views compares their curves
    points = []
    for t in finished:
        value = None
        if t.id in usable_ids and reach(t) >= common:
            value = best_up_to(t, common, objective)
        ok = value is not None and math.isfinite(value)
        loss = objective.to_loss(value) if ok else math.inf  # type: ignore[arg-type]
        early = t.state in (DIVERGED, FAILED) or (t.id in usable_ids and not ok)
        points.append(TrialPoint(
            id=t.id, state=t.state, origin=t.origin, params=t.effective_params(),
            value=value if ok else None, loss=loss,
            mark=PRUNED if early or t.state == TrialState.PRUNED else mark_of(t.origin),
            bad=early or t.state in (TrialState.PRUNED, DIVERGED, FAILED),
        ))
    return points, None if math.isinf(common) else int(common)


def ranked(points: list[TrialPoint]) -> list[TrialPoint]:
    """Best first; trials without a value last (in id order)."""
    return sorted(points, key=lambda p: (p.loss, p.id))


def top_fraction(points: list[TrialPoint], fraction: float, minimum: int) -> list[TrialPoint]:
    """The best `fraction` of the trials with a value (at least `minimum` of them)."""
    valued = [p for p in ranked(points) if math.isfinite(p.loss)]
    n = max(minimum, math.ceil(fraction * len(points)))
    return valued[:n]
