"""Build the frozen History that algorithms see from the store, incrementally."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from tuitune.core.history import History, Objective, ParamChange, TrialView
from tuitune.store import ParamChangeRecord, RunStore, TrialRecord


class ObjectiveCurves:
    """The objective metric's points per trial, read from the store as they arrive."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.curves: dict[int, list[tuple[int, float]]] = defaultdict(list)
        self._last_id = 0

    def update(self, store: RunStore) -> set[int]:
        """Read new points; returns the ids of trials that got some."""
        touched: set[int] = set()
        for p in store.metrics(name=self.metric, after_id=self._last_id):
            self._last_id = p.id
            curve = self.curves[p.trial_id]
            if curve and p.step < curve[-1][0]:
                curve.append((p.step, p.value))
                curve.sort(key=lambda sv: sv[0])  # rare: steps reported out of order
            else:
                curve.append((p.step, p.value))
            touched.add(p.trial_id)
        return touched


def trial_view(trial: TrialRecord, objective: Objective, curve: list[tuple[int, float]],
               changes: Iterable[ParamChangeRecord]) -> TrialView:
    return TrialView(
        id=trial.id, state=trial.state, params=trial.params, origin=trial.origin,
        parent_id=trial.parent_id,
        changes=tuple(ParamChange(c.name, c.value, c.applied_step) for c in changes),
        curve=tuple(curve), value=objective.best([v for _, v in curve]),
        protected=trial.protected, started_at=trial.started_at, ended_at=trial.ended_at,
        has_checkpoint=bool(trial.checkpoint),
    )


def build_history(store: RunStore, objective: Objective, curves: ObjectiveCurves,
                  now: float, max_steps: int | None) -> History:
    changes: dict[int, list[ParamChangeRecord]] = defaultdict(list)
    for c in store.param_changes():
        changes[c.trial_id].append(c)
    views = tuple(
        trial_view(t, objective, curves.curves.get(t.id, []), changes.get(t.id, ()))
        for t in store.trials()
    )
    return History(objective=objective, trials=views, now=now, max_steps=max_steps)
