"""Output transforms applied to losses before the GP sees them."""

from __future__ import annotations

import numpy as np

#: "auto" takes logs when the positive losses span at least this ratio.
AUTO_LOG_RATIO = 100.0


def transform_losses(y: np.ndarray, how: str = "auto") -> np.ndarray:
    """Warp finite losses so that a stationary GP fits them better.

    Losses that span orders of magnitude (a diverging run at 1e3 next to good
    runs at 1e-2) would otherwise flatten everything that matters into one value
    after standardisation. "log" takes logs of positive losses, and of losses
    shifted to start at a small positive offset otherwise; "auto" takes logs only
    when every loss is positive and max / min >= 100; "none" leaves them.
    """
    y = np.asarray(y, dtype=float)
    if how == "none" or len(y) == 0:
        return y
    lo, hi = float(np.min(y)), float(np.max(y))
    if lo > 0.0 and (how == "log" or hi / lo >= AUTO_LOG_RATIO):
        return np.log(y)
    if how == "log":
        # Shifted so the best loss sits at 1% of the range: monotone, finite.
        return np.log(y - lo + 0.01 * max(hi - lo, 1e-12))
    return y


def standardize(y: np.ndarray) -> np.ndarray:
    """Zero mean and unit variance (a constant series becomes zeros)."""
    std = float(np.std(y))
    return (y - float(np.mean(y))) / (std if std > 0.0 else 1.0)
