"""Plain, frozen records read from the store."""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from typing import Any

from tuitune.core.trial_state import TrialState


@dataclass(frozen=True)
class TrialRecord:
    id: int
    state: TrialState
    origin: str
    parent_id: int | None
    clone_step: int | None
    from_checkpoint: bool
    initial_checkpoint: str | None
    params: dict[str, Any]
    created_at: float
    started_at: float | None
    ended_at: float | None
    pid: int | None
    pid_start: float | None
    node: str | None
    gpus: str | None
    exit_code: int | None
    error: str | None
    note: str
    starred: bool
    protected: bool
    stop_requested: bool
    api_seen: bool
    checkpoint: str | None
    checkpoint_step: int | None
    peak_gpu_mem_mb: float | None
    tree: list[tuple[int, float]]
    updated_at: float | None
    # The supervisor's intents (schema 3; absent from older stores). A launch token
    # names the processes of a start not yet recorded; an end plan is a kill under way.
    launch_token: str | None = None
    end_plan: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> TrialRecord:
        d = dict(row)
        d["state"] = TrialState(d["state"])
        d["params"] = json.loads(d["params"])
        d["end_plan"] = json.loads(d["end_plan"]) if d.get("end_plan") else None
        d["tree"] = [tuple(x) for x in json.loads(d["tree"])] if d["tree"] else []
        for flag in ("from_checkpoint", "starred", "protected", "stop_requested", "api_seen"):
            d[flag] = bool(d[flag])
        return cls(**d)


@dataclass(frozen=True)
class ParamChangeRecord:
    id: int
    trial_id: int
    name: str
    value: Any
    actor: str
    requested_at: float
    applied_step: int | None
    applied_at: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ParamChangeRecord:
        d = dict(row)
        d["value"] = json.loads(d["value"])
        return cls(**d)


@dataclass(frozen=True)
class MetricPoint:
    id: int
    trial_id: int
    step: int
    name: str
    value: float
    t: float

    @classmethod
    def from_row(cls, row: sqlite3.Row | tuple) -> MetricPoint:
        id_, trial_id, step, name, value, t = tuple(row)
        return cls(id_, trial_id, step, name, math.nan if value is None else value, t)


@dataclass(frozen=True)
class MetricSummary:
    """One trial's metric in a few numbers (see store/summary.py)."""

    trial_id: int
    name: str
    points: int
    last_step: int
    last_value: float  # at the highest step; NaN for NaN
    min_value: float | None  # finite values only; None when there is none
    max_value: float | None

    @classmethod
    def from_tuple(cls, row: tuple) -> MetricSummary:
        tid, name, points, step, last, low, high = row
        return cls(int(tid), name, int(points), int(step), math.nan if last is None else last,
                   low, high)

    def best(self, mode: str) -> float | None:
        """The best finite value for an objective of this mode ("min" or "max")."""
        return self.min_value if mode == "min" else self.max_value


@dataclass(frozen=True)
class EventRecord:
    id: int
    t: float
    trial_id: int | None
    kind: str
    actor: str
    message: str
    data: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> EventRecord:
        d = dict(row)
        d["data"] = json.loads(d["data"]) if d["data"] else None
        return cls(**d)


@dataclass(frozen=True)
class CommandRecord:
    id: int
    t: float
    kind: str
    args: dict[str, Any]
    actor: str
    status: str
    result: str | None
    done_at: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> CommandRecord:
        d = dict(row)
        d["args"] = json.loads(d["args"])
        return cls(**d)
