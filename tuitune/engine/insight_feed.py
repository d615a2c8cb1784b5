"""What front ends read from a run's store to build its insight (tuitune/insight is pure)."""

from __future__ import annotations

import time

from tuitune.engine.snapshot import ObjectiveCurves, build_history
from tuitune.engine.space_edit import current_space
from tuitune.history import History
from tuitune.insight import Insight, build_insight
from tuitune.insight.model import RunModel
from tuitune.space import Space
from tuitune.spec import Spec
from tuitune.store import RunStore


def run_history(store: RunStore, spec: Spec) -> History:
    curves = ObjectiveCurves(spec.objective.metric)
    curves.update(store)
    return build_history(store, spec.objective, curves, time.time(), spec.budget.max_steps)


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
