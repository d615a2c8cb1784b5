"""Short text forms of values for narrow cells. No Textual."""

from __future__ import annotations

import math

from rich.cells import cell_len

from tuitune.core.textsafe import escape_controls
from tuitune.core.numfmt import value  # noqa: F401  (one home: tuitune/core/numfmt.py)


def duration(seconds: float | None, precise: bool = False) -> str:
    """'<1m', '17m', '2h05m', '3d04h'; precise: '42s', '17m04s'.

    Coarse by default: a table of running trials whose clocks tick every second
    would repaint every row every second for a digit nobody reads.
    """
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s" if precise else "<1m"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s" if precise else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def mb(value_mb: float | None) -> str:
    """Memory: '512M', '1.2G', '80G'."""
    if value_mb is None or math.isnan(value_mb):
        return "-"
    if value_mb < 1000:
        return f"{value_mb:.0f}M"
    g = value_mb / 1024
    return f"{g:.1f}G" if g < 100 else f"{g:.0f}G"


def pct(p: float | None) -> str:
    return "n/a" if p is None or (isinstance(p, float) and math.isnan(p)) else f"{p:.0f}%"


def fit(text: str, width: int, align: str = "l") -> str:
    """Crop with an ellipsis, or pad, to exactly `width` characters."""
    if width <= 0:
        return ""
    if len(text) > width:
        return text[: width - 1] + "…" if width > 1 else text[:1]
    return text.rjust(width) if align == "r" else text.ljust(width)


def ascii_safe(text: str) -> str:
    """Controls shown escaped (`\\x1b`, as the CLI shows them: tuitune.core.textsafe), then
    characters that are not one cell wide (wide CJK) replaced by `?`."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(c if cell_len(c) == 1 else "?" for c in escape_controls(text))
