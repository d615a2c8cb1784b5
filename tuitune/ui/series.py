"""Numeric helpers for drawing curves in a terminal: downsampling, smoothing,
sparklines and the overfitting check. Pure functions, no Textual.

Curves are drawn a column at a time, so a 100k-step loss curve is first reduced
to per-column (min, max) pairs: spikes survive, and drawing costs the same
whatever the curve's length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tuitune.core.numfmt import nice_number  # noqa: F401  (one home: tuitune/core/numfmt.py)

#: Eight block heights; a sparkline cell is one of these (or a space for no data).
BLOCKS = "▁▂▃▄▅▆▇█"


def column_minmax(xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray,
                  x0: float, x1: float, ncols: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (min, max) of the finite points of a curve.

    Args:
        xs, ys: The curve, xs ascending (not required, but cheaper).
        x0, x1: The x range mapped onto the columns (x1 > x0, or a single column).
        ncols: Number of columns.

    Returns:
        Two float arrays of length ncols; NaN where a column holds no finite point.
    """
    lo = np.full(ncols, np.nan)
    hi = np.full(ncols, np.nan)
    if ncols <= 0:
        return lo, hi
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    keep = np.isfinite(y) & np.isfinite(x)
    if not keep.any():
        return lo, hi
    x, y = x[keep], y[keep]
    span = x1 - x0
    if span <= 0:
        cols = np.zeros(len(x), dtype=int)
    else:
        cols = np.floor((x - x0) / span * ncols).astype(int)
        cols = np.clip(cols, 0, ncols - 1)
    np.fmin.at(lo, cols, y)
    np.fmax.at(hi, cols, y)
    return lo, hi


def ema(values: Sequence[float] | np.ndarray, weight: float = 0.6) -> np.ndarray:
    """TensorBoard's smoothing: a debiased exponential moving average.

    Non-finite values are passed through and do not disturb the average.
    """
    from scipy.signal import lfilter

    v = np.asarray(values, dtype=float)
    out = v.copy()
    finite = np.isfinite(v)
    if weight <= 0 or not finite.any():
        return out
    y = v[finite]
    smoothed = lfilter([1 - weight], [1, -weight], y)
    debias = 1 - weight ** np.arange(1, len(y) + 1)
    out[finite] = smoothed / debias
    return out


def buckets(values: Sequence[float], n: int) -> list[float]:
    """Reduce a series to at most `n` values, the mean of equal slices (NaN-aware)."""
    if len(values) <= n:
        return [float(v) for v in values]
    arr = np.asarray(values, dtype=float)
    finite = np.isfinite(arr)
    # One pass in C for all slices (called per trial per poll while trials report):
    # slice starts strictly increase because len(values) > n.
    starts = np.linspace(0, len(arr), n + 1).astype(int)[:-1]
    sums = np.add.reduceat(np.where(finite, arr, 0.0), starts)
    counts = np.add.reduceat(finite.astype(np.int64), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / counts, math.nan)
    return means.tolist()


def sparkline(values: Sequence[float], width: int, lo: float | None = None,
              hi: float | None = None) -> str:
    """A `width`-cell sparkline of the last `width` values (one glyph per value).

    With `lo`/`hi` the scale is fixed (e.g. 0-100 for utilization); otherwise it
    spans the values' own range. Missing values draw as spaces; the line is
    right-aligned so the newest value is always in the last cell.
    """
    vals = list(values)[-width:] if width > 0 else []
    finite = [v for v in vals if v is not None and math.isfinite(v)]
    if not finite:
        return " " * width
    low = min(finite) if lo is None else lo
    high = max(finite) if hi is None else hi
    span = high - low
    out = []
    for v in vals:
        if v is None or not math.isfinite(v):
            out.append(" ")
            continue
        frac = 0.5 if span <= 0 else (min(max(v, low), high) - low) / span
        out.append(BLOCKS[min(int(frac * len(BLOCKS)), len(BLOCKS) - 1)])
    return " " * (width - len(out)) + "".join(out)


def bar(fraction: float | None, width: int) -> str:
    """A progress bar of `width` cells in eighths: '███▌    '."""
    if width <= 0:
        return ""
    if fraction is None or not math.isfinite(fraction):
        return " " * width
    eighths = round(min(max(fraction, 0.0), 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    return ("█" * full + partial).ljust(width)[:width]


def trend(steps: Sequence[float], values: Sequence[float]) -> float | None:
    """Least-squares slope of the finite points, or None with fewer than 3."""
    x = np.asarray(steps, dtype=float)
    y = np.asarray(values, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        return None
    x, y = x[keep], y[keep]
    if np.ptp(x) == 0:
        return None
    return float(np.polyfit(x, y, 1)[0])


def overfitting(train: tuple[Sequence[float], Sequence[float]],
                val: tuple[Sequence[float], Sequence[float]],
                mode: str = "min", window: int = 5) -> bool:
    """True when, over the last `window` points, validation worsens while training improves.

    Args:
        train, val: (steps, values) of the training and validation metric.
        mode: "min" when lower is better for both (loss), "max" otherwise (accuracy).
        window: Number of recent points of each curve to fit a trend on.
    """
    sign = 1.0 if mode == "min" else -1.0
    t = trend(train[0][-window:], train[1][-window:])
    v = trend(val[0][-window:], val[1][-window:])
    if t is None or v is None:
        return False
    return sign * t < 0 and sign * v > 0


def better_mode(metric: str) -> str:
    """Guess whether higher or lower is better for a metric from its name."""
    name = metric.lower()
    for word in ("acc", "auc", "f1", "precision", "recall", "score", "iou", "map", "bleu",
                 "reward", "r2"):
        if word in name:
            return "max"
    return "min"
