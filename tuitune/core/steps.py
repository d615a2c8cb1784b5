"""What a step is: a whole number that fits the store's 64-bit INTEGER.

One definition for every way a step arrives (the in-trial API, parsed output), so a
value the store cannot hold is refused where it comes in, never in a writer that
would retry it forever. Standard library only: the in-trial API imports it.
"""

from __future__ import annotations

import math
from typing import Any

STEP_MIN, STEP_MAX = -(1 << 63), (1 << 63) - 1


def to_step(value: Any) -> int | None:
    """`value` as a step (a float's fraction is dropped), or None if it is not a
    finite number within the store's range."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        step = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return step if STEP_MIN <= step <= STEP_MAX else None
