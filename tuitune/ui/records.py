"""The frozen records the model hands to the UI thread (no Textual)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuitune.core.history import Objective, ParamChange
from tuitune.store import EventRecord


@dataclass(frozen=True)
class Change(ParamChange):
    """A tweak of one parameter, with who asked for it; `step` is None until the trial
    applied it."""

    actor: str = ""


@dataclass(frozen=True)
class TrialRow:
    """One trial as the UI shows it. Frozen: the UI thread may keep it."""

    id: int
    state: str
    origin: str
    parent_id: int | None
    clone_step: int | None
    from_checkpoint: bool
    initial: Mapping[str, Any]
    params: Mapping[str, Any]
    changes: tuple[Change, ...]
    step: int | None
    latest: float | None
    best: float | None
    n_points: int
    spark: tuple[float, ...] | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    pid: int | None
    pid_start: float | None
    gpus: str | None
    peak_gpu_mem_mb: float | None
    note: str
    starred: bool
    protected: bool
    checkpoint_step: int | None
    exit_code: int | None
    error: str | None
    node: str | None = None  # where a remote executor placed the trial
    #: With several objectives or constraints: "front" (on the Pareto front of the
    #: feasible trials), "infeasible: ..." (breaks a constraint) or "".
    mark: str = ""

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
