"""Bulk reads the TUI needs and `RunStore` does not offer yet.

They read through the store's own connection (so they share its settings and
its thread), and are bounded by a metric id so that a bulk load and the
incremental reads after it never count a point twice. Candidates for
`RunStore` methods; kept here so the store stays the engine's to change.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable

import numpy as np

from tuitune.history import Objective
from tuitune.store import RunStore


def _conn(store: RunStore) -> sqlite3.Connection:
    return store._conn  # noqa: SLF001 - see the module docstring


def objective_aggregates(store: RunStore, objective: Objective, max_id: int
                         ) -> list[tuple[int, int, int, float | None, float | None]]:
    """Per trial: (trial id, points, last step, latest value, best finite value).

    One grouped pass for counts and extremes, then one index seek per trial for
    the latest point; no point is turned into a Python object.
    """
    best = "MIN" if objective.mode == "min" else "MAX"
    cur = _conn(store).cursor()
    cur.row_factory = None
    groups = cur.execute(
        f"SELECT trial_id, COUNT(*), MAX(step), {best}(CASE WHEN abs(value) < 1e308"
        " THEN value END) FROM metrics WHERE name = ? AND id <= ? GROUP BY trial_id",
        (objective.metric, max_id)).fetchall()
    out = []
    for tid, n, step, best_value in groups:
        last = cur.execute(
            "SELECT value FROM metrics WHERE trial_id = ? AND name = ? AND id <= ?"
            " ORDER BY step DESC, id DESC LIMIT 1", (tid, objective.metric, max_id)).fetchone()
        latest = math.nan if last is None or last[0] is None else float(last[0])
        out.append((int(tid), int(n), int(step), latest, best_value))
    return out


def metric_arrays(store: RunStore, name: str, max_id: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(trial ids, steps, values) of one metric up to `max_id`, by trial then step.

    NULL values (NaN in the store) come back as NaN.
    """
    rows = _conn(store).execute(
        "SELECT trial_id, step, value FROM metrics WHERE name = ? AND id <= ?"
        " ORDER BY trial_id, step, id", (name, max_id)).fetchall()
    if not rows:
        empty = np.empty(0)
        return empty.astype(np.int64), empty.astype(np.int64), empty
    arr = np.array(rows, dtype=float)  # None -> nan
    return arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2]


def last_steps(store: RunStore, max_id: int) -> dict[int, int]:
    """Each trial's highest reported step, over every metric, up to `max_id`."""
    rows = _conn(store).execute(
        "SELECT trial_id, MAX(step) FROM metrics WHERE id <= ? GROUP BY trial_id", (max_id,))
    return {int(tid): int(step) for tid, step in rows}


def metric_names(store: RunStore, trial_ids: Iterable[int]) -> set[str]:
    """Distinct metric names of the given trials, by seeking the (trial, name, step)
    index name to name (a loose index scan): a few seeks per trial, not a scan of
    every point."""
    cur = _conn(store).cursor()
    cur.row_factory = None
    names: set[str] = set()
    for tid in trial_ids:
        name = ""
        while True:
            row = cur.execute("SELECT MIN(name) FROM metrics WHERE trial_id = ? AND name > ?",
                              (tid, name)).fetchone()
            if row is None or row[0] is None:
                break
            name = row[0]
            names.add(name)
    return names


def curve(store: RunStore, trial_id: int, name: str, max_id: int
          ) -> tuple[list[int], list[float]]:
    """One metric of one trial up to `max_id`, in step order, as two lists (NaN for NULL)."""
    cur = _conn(store).cursor()
    cur.row_factory = None
    rows = cur.execute("SELECT step, value FROM metrics WHERE trial_id = ? AND name = ?"
                       " AND id <= ? ORDER BY step, id", (trial_id, name, max_id)).fetchall()
    return [r[0] for r in rows], [math.nan if r[1] is None else r[1] for r in rows]


def last_event_id(store: RunStore) -> int:
    return int(_conn(store).execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])


#: The meta keys the header needs (the stored spec, the biggest value, is not one).
HEADER_META = ("name", "strategy", "max_trials", "max_concurrent", "started_at", "state",
               "finished_reason", "heartbeat", "supervisor_pid", "supervisor_start")


def meta_subset(store: RunStore, keys: Iterable[str] = HEADER_META) -> dict[str, object]:
    """Some meta values, without parsing the rest (RunStore.meta() parses all of them)."""
    keys = list(keys)
    marks = ",".join("?" * len(keys))
    cur = _conn(store).cursor()
    cur.row_factory = None
    rows = cur.execute(f"SELECT key, value FROM meta WHERE key IN ({marks})", keys)
    return {k: json.loads(v) for k, v in rows}


def metric_points(store: RunStore, after_id: int, limit: int
                  ) -> list[tuple[int, int, int, str, float]]:
    """(id, trial id, step, name, value) after `after_id`, oldest first, NaN for NULL."""
    cur = _conn(store).cursor()
    cur.row_factory = None
    rows = cur.execute("SELECT id, trial_id, step, name, value FROM metrics WHERE id > ?"
                       " ORDER BY id LIMIT ?", (after_id, limit)).fetchall()
    return [(i, t, s, n, math.nan if v is None else v) for i, t, s, n, v in rows]


def trial_stamps(store: RunStore, since: float) -> list[tuple[int, float]]:
    """(id, updated_at) of trials updated at or after `since`: cheap to ask each poll."""
    cur = _conn(store).cursor()
    cur.row_factory = None
    return cur.execute("SELECT id, updated_at FROM trials WHERE updated_at >= ?",
                       (since,)).fetchall()
