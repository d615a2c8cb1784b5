"""How every number is shown to a person (TUI, CLI, events): one rule, one home.

Floats get 4 significant digits, so `0.005000000000000001` reads `0.005` and a
column of them stays narrow; integers (steps, counts, ids) are shown whole. In
running text trailing zeros are dropped (`lr=0.3`); a measured value in a column of
them (a metric's latest or best, an axis label) keeps them (`column_number`: `0.7100`
over `0.5434`, not `0.71`), and a table lines the decimal points up
(`align_decimals`).
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


def column_number(value: float | None, significant: int = SIGNIFICANT,
                  width: int | None = None) -> str:
    """A measured value in a column of them: always `significant` digits, trailing
    zeros kept, so values of one magnitude are one width and their digits line up
    (`0.7100` over `0.5434`, where `nice_number` gives `0.71`). In a cell `width`
    wide: 3 digits where 4 do not fit, an exponent where that is narrower, never a
    cropped number (`0.000123…`)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, int):
        return str(value)
    text = _short_exponent(f"{value:#.{significant}g}")
    if width is not None and len(text) > width:
        text = _short_exponent(f"{value:#.{min(significant, 3)}g}")
        if len(text) > width:
            text = scientific(value, 3)
    return text


def align_decimals(cells: list[str]) -> list[str]:
    """A column's cells padded on the right so that, right-aligned, their decimal
    points line up (`12.35  ` over `0.05547`); cells without a plain decimal point (an
    integer, `-`, an exponent form, text) are left as they are."""
    digits = [digits_after_point(c) for c in cells]
    most = max((d for d in digits if d is not None), default=0)
    return [c if d is None else c + " " * (most - d) for c, d in zip(cells, digits, strict=True)]


def digits_after_point(cell: str) -> int | None:
    """How many characters follow a shown number's decimal point (None: no plain
    decimal point, as in an integer, `-`, an exponent form or text)."""
    if "." not in cell or "e" in cell or not is_numeric(cell):
        return None
    return len(cell) - cell.index(".") - 1


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
