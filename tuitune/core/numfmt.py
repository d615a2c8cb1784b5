"""How every number is shown to a person (TUI, CLI, events): one rule, one home.

Floats get 4 significant digits, so `0.005000000000000001` reads `0.005` and a
column of them stays narrow; integers (steps, counts, ids) are shown whole.
Exact values belong to machine-readable output (`--json`, `export`), never here.
No Textual: the CLI and the engine import this.
"""

from __future__ import annotations

import math
from typing import Any

SIGNIFICANT = 4


def nice_number(value: float, significant: int = SIGNIFICANT) -> str:
    """Compact number for axes and cells: at most 4 significant digits (fewer where a
    narrow cell asks: the trial table's parameter columns fall back to 3)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    return _short_exponent(f"{value:.{significant}g}")


def scientific(value: float, significant: int = 3) -> str:
    """Always with an exponent ('1.79e-4'): the narrowest form of a small number."""
    return _short_exponent(f"{value:.{significant - 1}e}")


def _short_exponent(text: str) -> str:
    return text.replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")


def value(v: Any) -> str:
    """A parameter or metric value as shown: floats by `nice_number`, the rest as is."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return nice_number(v)
    return str(v)


def is_numeric(text: str) -> bool:
    """Whether a shown cell is a number (right-aligned in columns, so digits line up)."""
    try:
        float(text)
    except ValueError:
        return text in ("inf", "-inf")
    return True
