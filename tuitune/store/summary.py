"""Per-trial metric summaries: a few numbers per (trial, metric) kept as points arrive.

Why: a front end opening a run of 1,000 trials x 1,000 points needs every trial's
latest and best value; computing them reads every point (each a table lookup,
seconds). The `metric_summary` table (schema 2) holds them, updated in the same
transaction as the points, so reading it is one small scan that always agrees with
the points in the same snapshot. Stores from before it (schema 1) compute the same
numbers from the points (`COMPUTE`).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence

TABLE = """
CREATE TABLE IF NOT EXISTS metric_summary(
  trial_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  points INTEGER NOT NULL,
  last_step INTEGER NOT NULL,
  last_value REAL,
  min_value REAL,
  max_value REAL,
  PRIMARY KEY (trial_id, name)
) WITHOUT ROWID;
"""

# Merges one batch's summary into the stored one. In DO UPDATE, bare column names
# are the stored row's values before the update. The latest value is the one at the
# highest step, the last written on a tie (as ORDER BY step, id reads them back).
# min()/max() of two values are NULL if either is, hence the coalesce.
UPSERT = """
INSERT INTO metric_summary(trial_id, name, points, last_step, last_value, min_value, max_value)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(trial_id, name) DO UPDATE SET
  points = points + excluded.points,
  last_value = CASE WHEN excluded.last_step >= last_step
                    THEN excluded.last_value ELSE last_value END,
  last_step = max(last_step, excluded.last_step),
  min_value = coalesce(min(min_value, excluded.min_value), min_value, excluded.min_value),
  max_value = coalesce(max(max_value, excluded.max_value), max_value, excluded.max_value)
"""

# The same numbers from the points. 9e999 reads as +inf in SQLite, so the CASE keeps
# finite values only (NULL, SQLite's NaN, and +/-inf are never a best value).
_COMPUTE = """
SELECT trial_id, name, COUNT(*), MAX(step),
  (SELECT value FROM metrics AS p WHERE p.trial_id = m.trial_id AND p.name = m.name
     AND p.id <= :up_to ORDER BY p.step DESC, p.id DESC LIMIT 1),
  MIN(CASE WHEN abs(value) < 9e999 THEN value END),
  MAX(CASE WHEN abs(value) < 9e999 THEN value END)
FROM metrics AS m WHERE {where} GROUP BY trial_id, name
"""

_COLUMNS = "trial_id, name, points, last_step, last_value, min_value, max_value"

#: The kept summaries of one metric (argument: its name), by trial.
READ = f"SELECT {_COLUMNS} FROM metric_summary WHERE name = ? ORDER BY trial_id"

#: The same computed from one metric's points (arguments: name, highest point id).
COMPUTE = _COMPUTE.format(where="name = :name AND id <= :up_to") + " ORDER BY trial_id"


def batch_rows(trial_id: int, rows: Sequence[tuple[int, int, str, float | None, float]]
               ) -> list[tuple]:
    """UPSERT arguments summarising one trial's batch of metric rows (trial id, step,
    name, stored value, t), in insertion order. Grouped first so that the per-point
    work is two appends; the rest is builtins over lists (this runs for every point
    a trial writes)."""
    steps_of: dict[str, list[int]] = {}
    values_of: dict[str, list[float | None]] = {}
    for _, step, name, value, _ in rows:
        steps = steps_of.get(name)
        if steps is None:
            steps_of[name], values_of[name] = [step], [value]
        else:
            steps.append(step)
            values_of[name].append(value)
    out = []
    for name, steps in steps_of.items():
        values = values_of[name]
        top = max(steps)
        if steps[-1] == top:
            last = values[-1]
        else:  # rare: a step reported out of order; the last written at the top step
            last = values[len(steps) - 1 - steps[::-1].index(top)]
        finite = [v for v in values if v is not None and -math.inf < v < math.inf]
        out.append((trial_id, name, len(steps), top, last, min(finite, default=None),
                    max(finite, default=None)))
    return out


def migrate(conn: sqlite3.Connection) -> None:
    """Add the table to a schema-1 store and fill it from its points. Call inside the
    write transaction that sets the new version, so no point lands in between."""
    conn.execute(TABLE)
    conn.execute(f"INSERT INTO metric_summary({_COLUMNS}) "
                 + _COMPUTE.format(where="id <= :up_to"), {"up_to": 2**62})

