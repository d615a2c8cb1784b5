"""Fixed styles for the drawn widgets (their text is built by hand, not with CSS).

Plain named colours: Textual maps them through the theme, and a handful of
styles keeps the escape codes sent per frame few.
"""

from __future__ import annotations

from rich.style import Style

from tuitune.core.trial_state import TrialState

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
REFERENCE = Style(color="bright_white", dim=True)  # another run's best, drawn dotted
CURSOR_DIM = Style(bgcolor="grey23")
STAR = Style(color="yellow", bold=True)

#: One style per state (a test checks every state has one).
STATE_STYLES: dict[TrialState, Style] = {
    TrialState.QUEUED: Style(color="bright_black"),
    TrialState.RUNNING: Style(color="green", bold=True),
    TrialState.PAUSED: Style(color="yellow"),
    TrialState.COMPLETED: Style(color="blue"),
    TrialState.FAILED: Style(color="red", bold=True),
    TrialState.KILLED: Style(color="magenta"),
    TrialState.PRUNED: Style(color="magenta", dim=True),
    TrialState.DIVERGED: Style(color="red"),
    TrialState.TIMED_OUT: Style(color="red", dim=True),
    TrialState.LOST: Style(color="red", dim=True),
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
