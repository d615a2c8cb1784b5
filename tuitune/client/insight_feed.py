"""What front ends read from a run's store to build its insight (tuitune/insight is pure)."""

from __future__ import annotations

import time
from collections import defaultdict

from tuitune.engine.snapshot import trial_view
from tuitune.engine.space_edit import current_space
from tuitune.engine.warm_start import META_KEY as WARM_START
from tuitune.engine.warm_start import with_imports
from tuitune.core.history import (
    ACTIVE_STATES,
    COMPLETED,
    DIVERGED,
    FAILED,
    FINISHED_STATES,
    History,
)
from tuitune.insight import Insight, build_insight
from tuitune.insight.model import RunModel
from tuitune.core.space import Space
from tuitune.core.spec import Spec
from tuitune.store import MetricSummary, ParamChangeRecord, RunStore, TrialRecord


def run_history(store: RunStore, spec: Spec) -> History:
    """The History the searchers would see, as cheaply as the run allows.

    Insight compares finished trials at a common step (search/fidelity.py). While
    every finished trial with a value completed, that step is the end, and each
    trial's best value (kept per trial with the points: a small read) is all it
    needs; running trials' curves are read one by one. Only when early stopping
    cut finished trials short are all the objective's points read, in one pass.
    """
    metric, objective = spec.objective.metric, spec.objective
    trials = store.trials()
    summaries = store.metric_summaries(metric)
    curves: dict[int, list[tuple[int, float]]] = defaultdict(list)
    if summaries is not None and _full_fidelity(trials, summaries):
        for m in summaries:
            best = m.best(objective.mode)
            curves[m.trial_id] = [(m.last_step, best if best is not None else m.last_value)]
        for t in trials:
            if t.state in ACTIVE_STATES:
                curves[t.id] = store.curve(t.id, metric)
    else:
        for tid, step, value in store.metric_rows(metric):
            curves[tid].append((step, value))
    changes: dict[int, list[ParamChangeRecord]] = defaultdict(list)
    for c in store.param_changes():
        changes[c.trial_id].append(c)
    views = tuple(trial_view(t, objective, curves.get(t.id, []), changes.get(t.id, ()))
                  for t in trials)
    history = History(objective=objective, trials=views, now=time.time(),
                      max_steps=spec.budget.max_steps)
    # Trials imported from earlier runs (--warm-start) inform the insight as the search.
    return with_imports(history, store.meta([WARM_START]).get(WARM_START))


def _full_fidelity(trials: list[TrialRecord], summaries: list[MetricSummary]) -> bool:
    """No finished trial with a finite value ended before completing."""
    valued = {m.trial_id for m in summaries if m.min_value is not None}
    return all(t.state == COMPLETED or t.state not in FINISHED_STATES or t.state in (
        DIVERGED, FAILED) or t.id not in valued for t in trials)


def train_metric(spec: Spec) -> str | None:
    """The training counterpart of a validation objective (`val_loss` -> `loss`), for
    the overfitting rule; None when the objective is not a validation metric."""
    metric = spec.objective.metric
    return metric[4:] if metric.startswith("val_") and len(metric) > 4 else None


def run_inputs(store: RunStore, spec: Spec
               ) -> tuple[History, Space, dict[int, list[tuple[int, float]]]]:
    """The history, the current space revision, and running trials' training curves."""
    history = run_history(store, spec)
    space = current_space(spec, store.meta())
    train = train_metric(spec)
    curves = {}
    if train is not None:
        for t in history.running:
            curves[t.id] = store.curve(t.id, train)
    return history, space, curves


def run_insight(store: RunStore, spec: Spec, n_best: int = 10, with_model: bool = True
                ) -> tuple[Insight, Space, History]:
    """The insight over a run as it is now, in its current space revision; with the
    run's GP fitted (seconds on big runs) unless `with_model` is False."""
    history, space, curves = run_inputs(store, spec)
    model = RunModel(space, history, seed=spec.search.seed) if with_model else None
    return build_insight(history, space, n_best, curves, model), space, history
