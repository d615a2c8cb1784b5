"""Several objectives: which results are Pareto-optimal, and how much they cover.

Shared vocabulary: the searchers, the engine's `best` and `export`, the table and
the insight screen all ask here, so "on the front" means one thing everywhere.
Values are losses (smaller is better: a maximised objective is negated first).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pareto_mask(losses: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Which rows are non-dominated among the rows whose values are all finite.

    A row dominates another when it is no worse in every objective and better in
    one. Rows with a non-finite value are never on the front; equal rows are all
    on it.
    """
    y = np.asarray(losses, dtype=float)
    if y.ndim != 2 or len(y) == 0:
        return np.zeros(len(y), dtype=bool)
    finite = np.all(np.isfinite(y), axis=1)
    mask = finite.copy()
    for i in np.flatnonzero(finite):
        others = y[finite]
        no_worse = np.all(others <= y[i], axis=1)
        better = np.any(others < y[i], axis=1)
        mask[i] = not np.any(no_worse & better)
    return mask


def hypervolume_2d(losses: np.ndarray | Sequence[Sequence[float]],
                   reference: Sequence[float]) -> float:
    """The area dominated by the points and bounded by `reference` (two objectives)."""
    y = np.asarray(losses, dtype=float).reshape(-1, 2)
    ref = np.asarray(reference, dtype=float)
    y = y[np.all(np.isfinite(y), axis=1) & np.all(y < ref, axis=1)]
    if len(y) == 0:
        return 0.0
    front = y[pareto_mask(y)]
    front = front[np.lexsort((front[:, 1], front[:, 0]))]
    area, level = 0.0, float(ref[1])
    for a, b in front:
        if b < level:
            area += (float(ref[0]) - a) * (level - b)
            level = b
    return area
