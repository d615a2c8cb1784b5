"""Fixed styles for the drawn widgets (their text is built by hand, not with CSS).

Plain named colours: Textual maps them through the theme, and a handful of
styles keeps the escape codes sent per frame few.
"""

from __future__ import annotations

from rich.style import Style

from tuitune.core.history import (
    COMPLETED,
    DIVERGED,
    FAILED,
    KILLED,
    LOST,
    PAUSED,
    PRUNED,
    QUEUED,
    RUNNING,
    TIMED_OUT,
)

DIM = Style(dim=True)
BOLD = Style(bold=True)
HEAD = Style(bold=True, underline=False)
ACCENT = Style(color="cyan")
GOOD = Style(color="green")
WARN = Style(color="yellow")
BAD = Style(color="red")
BAR = Style(color="blue")
SPARK = Style(color="cyan")
CURSOR = Style(reverse=True)
REFERENCE = Style(color="bright_white", dim=True)  # another run's best, drawn dashed
CURSOR_DIM = Style(bgcolor="grey23")
STAR = Style(color="yellow", bold=True)

STATE_STYLES: dict[str, Style] = {
    QUEUED: Style(color="bright_black"),
    RUNNING: Style(color="green", bold=True),
    PAUSED: Style(color="yellow"),
    COMPLETED: Style(color="blue"),
    FAILED: Style(color="red", bold=True),
    KILLED: Style(color="magenta"),
    PRUNED: Style(color="magenta", dim=True),
    DIVERGED: Style(color="red"),
    TIMED_OUT: Style(color="red", dim=True),
    LOST: Style(color="red", dim=True),
}

#: Colours of overlaid curves: the selected trial first, then pinned ones.
SERIES = (
    Style(color="cyan"),
    Style(color="yellow"),
    Style(color="magenta"),
    Style(color="green"),
    Style(color="red"),
    Style(color="blue"),
    Style(color="bright_white"),
    Style(color="bright_cyan"),
)


def state_style(state: str) -> Style:
    return STATE_STYLES.get(state, DIM)


def level_style(pct: float | None) -> Style:
    """Green, yellow, red for a 0-100 load."""
    if pct is None or pct != pct:  # unknown (None or NaN): not a load to colour
        return DIM
    return GOOD if pct < 70 else WARN if pct < 90 else BAD
