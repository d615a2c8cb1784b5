"""A reference to compare against: the best trial of another run, its curves read once
(`tuitune attach RUN --reference OTHER`), drawn dotted on the run screen's chart and the
detail screen's (ui/screens/charting.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tuitune.client.summary import ranked
from tuitune.core.spec import load_spec_json
from tuitune.store import RunStore


@dataclass(frozen=True)
class Reference:
    run: str
    trial_id: int
    #: metric -> (steps, values), every metric the trial reported
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.run} #{self.trial_id}"


class NoReference(ValueError):
    """The run has no trial to compare against; str() is one line."""


def best_of(run_dir: Path, trial_id: int | None = None) -> Reference:
    """The run's best trial (by its objective), or the trial `trial_id` of it."""
    store = RunStore(run_dir, readonly=True)
    try:
        spec = load_spec_json(store.meta(["spec"])["spec"])
        if trial_id is not None:
            found = store.trial(trial_id)
            if found is None:
                raise NoReference(f"run {run_dir.name} has no trial {trial_id}")
            trial = found
        else:
            top = ranked(store, spec)
            if not top:
                raise NoReference(f"run {run_dir.name} has no trial with a value of "
                                  f"{spec.objective.metric} to compare against")
            trial = top[0][0]
        curves = {}
        for name in sorted(store.trial_metric_names([trial.id])):
            points = store.curve(trial.id, name)
            curves[name] = (np.array([s for s, _ in points], dtype=float),
                            np.array([v for _, v in points], dtype=float))
        return Reference(run_dir.name, trial.id, curves)
    finally:
        store.close()
