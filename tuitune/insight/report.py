"""Everything the insight screen and `tuitune insight` show, built from one History.

The model's slices are not here: fitting the GP costs more than the rest
together, so front ends build a `RunModel` (model.py) separately, off the UI
thread, and only when a slice is shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tuitune.core.history import History
from tuitune.core.space import Space

from tuitune.insight import advice as rules
from tuitune.insight.advice import Advice
from tuitune.insight.importance import Importance, ped_anova
from tuitune.insight.main_effects import effect_curves, main_effects
from tuitune.insight.model import RunModel
from tuitune.insight.parallel import Parallel, parallel_coordinates
from tuitune.insight.points import TrialPoint, trial_points

N_BEST = 10


@dataclass(frozen=True)
class Insight:
    points: tuple[TrialPoint, ...]
    common_step: int | None
    importance: Importance
    parallel: Parallel
    advice: tuple[Advice, ...]
    mode: str
    ped_anova: Importance  # the quick ranking (also the importance until a model is fit)

    @property
    def best(self) -> TrialPoint | None:
        valued = [p for p in self.points if math.isfinite(p.loss)]
        return min(valued, key=lambda p: (p.loss, p.id)) if valued else None

    def to_json(self) -> dict[str, Any]:
        best = self.best
        return {
            "trials": len(self.points),
            "trials_with_value": self.importance.n_trials,
            "common_step": self.common_step,
            "best": None if best is None else {"trial": best.id, "value": best.value,
                                               "params": best.params},
            "importance": _importance_json(self.importance),
            "ped_anova": _importance_json(self.ped_anova),
            "advice": [a.to_json() for a in self.advice],
        }


def _importance_json(imp: Importance) -> dict[str, Any]:
    return {"method": imp.method, "note": imp.note or None,
            "params": [{"name": p.name, "importance": p.importance, "trials": p.n_trials}
                       for p in imp.params]}


def build_insight(history: History, space: Space, n_best: int = N_BEST,
                  train_curves: Mapping[int, Sequence[tuple[int, float]]] | None = None,
                  model: RunModel | None = None) -> Insight:
    """Importance, parallel coordinates and advice over a run's history.

    Args:
        space: the run's current search space (its latest revision).
        train_curves: for running trials, their training-loss curve (by trial id),
            for the overfitting rule; without it that rule is skipped.
        model: the run's GP fitted on `history` (model.py): with it, importance is
            its main effects (main_effects.py); without it, PED-ANOVA's, and no zoom
            advice (its region is read off the model's main effects).
    """
    points, step = trial_points(history)
    quick = ped_anova(points, space)
    importance = quick
    effects = effect_curves(model) if model is not None and not quick.note else None
    if model is not None and effects is not None:
        importance = main_effects(model, quick.n_trials, effects) or quick
    advice: list[Advice] = []
    zoom = rules.zoom(points, space, effects)
    if zoom is not None:
        advice.append(zoom)
    advice += rules.widen(points, space)
    advice += rules.fix(points, space, importance)
    advice += rules.boundary(points, space)
    mode = history.objective.mode
    for trial in history.running:
        found = rules.plateau(trial, space, mode)
        if found is not None:
            advice.append(found)
        train = (train_curves or {}).get(trial.id)
        if train:
            over = rules.overfitting(trial.id, trial.curve, train, mode)
            if over is not None:
                advice.append(over)
    return Insight(tuple(points), step, importance,
                   parallel_coordinates(points, space, n_best), tuple(advice), mode, quick)


def text_report(insight: Insight, space: Space) -> str:
    """What `tuitune insight RUN` prints."""
    imp = insight.importance
    if imp.note:
        return imp.note
    lines = [f"importance ({imp.method}, {imp.n_trials} trials"
             + (f", at step {insight.common_step}" if insight.common_step is not None else "")
             + "):"]
    width = max(len(p.name) for p in imp.params)
    for p in imp.params:
        bar = "█" * round(p.importance * 30)
        lines.append(f"  {p.name:<{width}}  {p.importance:6.1%}  {bar}")
    lines.append("advice:" if insight.advice else "advice: none")
    for a in insight.advice:
        lines.append(f"  - {a.title}")
        lines += [f"      {e}" for e in a.evidence]
    return "\n".join(lines)
