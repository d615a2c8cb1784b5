"""Plain, frozen records read from the store."""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrialRecord:
    id: int
    state: str
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

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> TrialRecord:
        d = dict(row)
        d["params"] = json.loads(d["params"])
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
