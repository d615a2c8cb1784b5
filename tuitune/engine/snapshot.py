"""Build the frozen History that algorithms see from the store, incrementally."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from tuitune.core.history import Constraint, History, Objective, ParamChange, TrialView
from tuitune.core.measures import builtin_values
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


class ExtraMetrics:
    """The last value per trial of each metric that a further objective or a
    constraint names (issue 17: several objectives, constraints)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.curves = {name: ObjectiveCurves(name) for name in dict.fromkeys(names)}

    def update(self, store: RunStore) -> None:
        for curves in self.curves.values():
            curves.update(store)

    def last(self, trial_id: int) -> dict[str, float]:
        return {name: c.curves[trial_id][-1][1] for name, c in self.curves.items()
                if c.curves.get(trial_id)}


def extra_metric_names(objectives: Sequence[Objective],
                       constraints: Sequence[Constraint]) -> list[str]:
    """The metrics besides the first objective that the search needs per trial."""
    return [o.metric for o in objectives[1:]] + [c.metric for c in constraints]


def trial_view(trial: TrialRecord, objective: Objective, curve: list[tuple[int, float]],
               changes: Iterable[ParamChangeRecord],
               extras: Mapping[str, float] | None = None) -> TrialView:
    return TrialView(
        id=trial.id, state=trial.state, params=trial.params, origin=trial.origin,
        parent_id=trial.parent_id,
        changes=tuple(ParamChange(c.name, c.value, c.applied_step) for c in changes),
        curve=tuple(curve), value=objective.best([v for _, v in curve]),
        protected=trial.protected, started_at=trial.started_at, ended_at=trial.ended_at,
        has_checkpoint=bool(trial.checkpoint), extras=dict(extras or {}),
    )


def build_history(store: RunStore, objective: Objective, curves: ObjectiveCurves,
                  now: float, max_steps: int | None,
                  objectives: Sequence[Objective] = (), constraints: Sequence[Constraint] = (),
                  extra: ExtraMetrics | None = None) -> History:
    """The History of a run. With several objectives or constraints, each trial's
    `extras` hold the built-in measures (core/measures.py) and, over them, the last
    reported value of each metric `extra` reads."""
    changes: dict[int, list[ParamChangeRecord]] = defaultdict(list)
    for c in store.param_changes():
        changes[c.trial_id].append(c)
    needs_extras = len(objectives) > 1 or bool(constraints)

    def extras(t: TrialRecord) -> dict[str, float]:
        if not needs_extras:
            return {}
        out = builtin_values(t.started_at, t.ended_at, t.peak_gpu_mem_mb, now)
        out.update(extra.last(t.id) if extra is not None else {})
        return out

    views = tuple(
        trial_view(t, objective, curves.curves.get(t.id, []), changes.get(t.id, ()), extras(t))
        for t in store.trials()
    )
    return History(objective=objective, trials=views, now=now, max_steps=max_steps,
                   objectives=tuple(objectives) if len(objectives) > 1 else (),
                   constraints=tuple(constraints))
