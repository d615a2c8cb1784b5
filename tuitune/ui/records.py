"""The frozen records the model hands to the UI thread (no Textual)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from tuitune.core.history import Objective, ParamChange
from tuitune.store import EventRecord, TrialRecord


@dataclass(frozen=True)
class Change(ParamChange):
    """A tweak of one parameter, with who asked for it; `step` is None until the trial
    applied it."""

    actor: str = ""


@dataclass(frozen=True, kw_only=True)
class TrialRow(TrialRecord):
    """One trial as the UI shows it: the store's record, whose fields it has (`params`
    are those the trial started with), and what the model adds from its metrics and
    tweaks. Frozen: the UI thread may keep it."""

    current: Mapping[str, Any]  # `params` with its applied tweaks (history.current_params)
    changes: tuple[Change, ...] = ()
    step: int | None = None
    latest: float | None = None
    best: float | None = None
    n_points: int = 0
    spark: tuple[float, ...] | None = None
    #: With several objectives or constraints: "front" (on the Pareto front of the
    #: feasible trials), "infeasible: ..." (breaks a constraint) or "".
    mark: str = ""

    @classmethod
    def of(cls, record: TrialRecord, **derived: Any) -> TrialRow:
        """The record's fields as they are, and the model's (`current`, `changes`...)."""
        return cls(**{name: getattr(record, name) for name in _RECORD_FIELDS}, **derived)

    @property
    def tweaked(self) -> bool:
        return any(c.step is not None for c in self.changes)

    @property
    def origin_label(self) -> str:
        """'random', 'clone #3', 'pbt #2', with '+tw' when tweaked by hand."""
        base = self.origin
        if self.parent_id is not None:
            base = f"{self.origin} #{self.parent_id}"
        return base + ("+tw" if self.tweaked else "")

    def elapsed(self, now: float) -> float | None:
        if self.started_at is None:
            return None
        return max(0.0, (self.ended_at or now) - self.started_at)


_RECORD_FIELDS = tuple(f.name for f in fields(TrialRecord))


def imported_rows(record: Mapping[str, Any] | None) -> dict[int, TrialRow]:
    """A warm start's imported trials (engine/warm_start.py's record) as read-only
    table rows: ids -1, -2... as the searcher and the insight number them, origin
    `imported`, the source run and trial as the note. Not trials of this run: no
    process, curve or log."""
    from tuitune.core.trial_state import TrialState
    from tuitune.engine.warm_start import numbered

    rows = {}
    for trial_id, r in numbered(record):
        step = r.get("step")
        rows[trial_id] = TrialRow(
            id=trial_id, state=TrialState(r.get("state", TrialState.COMPLETED)), origin="imported",
            parent_id=None, clone_step=None, from_checkpoint=False, initial_checkpoint=None,
            params=dict(r["params"]), created_at=0.0, started_at=None, ended_at=None,
            pid=None, pid_start=None, node=None, gpus=None, exit_code=None, error=None,
            note=f"from {r['source_run']} trial {r['source_trial']}", starred=False,
            protected=False, stop_requested=False, api_seen=False, checkpoint=None,
            checkpoint_step=None, peak_gpu_mem_mb=None, tree=[], updated_at=None,
            current=dict(r["params"]), step=step, latest=r["value"], best=r["value"],
            n_points=1)
    return rows


@dataclass(frozen=True)
class Curve:
    """One metric of one trial: steps ascending. Arrays are read-only."""

    trial_id: int
    metric: str
    steps: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class RunHeader:
    """The run as a whole: what the header shows."""

    name: str
    strategy: str
    objective: Objective
    max_trials: int | None
    max_concurrent: int
    max_steps: int | None
    experiment_timeout: float | None
    budget_used: int
    counts: Mapping[str, int]
    started_at: float | None
    ended_at: float | None
    best: float | None
    best_trial: int | None
    supervisor_alive: bool
    run_state: str
    finished_reason: str | None


@dataclass(frozen=True)
class RunDelta:
    """What one poll found. `full` means `rows` holds every trial."""

    header: RunHeader
    rows: Mapping[int, TrialRow]
    events: tuple[EventRecord, ...] = ()
    curves: Mapping[tuple[int, str], Curve] = field(default_factory=dict)
    metric_names: tuple[str, ...] | None = None
    full: bool = False
    opening: bool = False  # more of the opening reads follow at once
