"""One fix to Textual's partial screen updates, applied when the app starts.

Textual 8 repaints a dirty span of a line by sending the line from the left edge
of the widget up to the span's end (`ChopsUpdate.render_segments` crops the
widget's strip from 0; its `__rich_console__` twin carries a "TODO: crop to x
extents"). For a 200-column table whose changing cells sit right of the middle,
that is most of the row each time a number changes. This sends the span only.

Lines holding characters wider than one cell are sent as before (a crop could
split one). The patch does nothing unless the method looks like the one it was
written for (Textual 8.x). `TUITUNE_TEXTUAL_PATCH=0` in the environment leaves
Textual as it is (to measure what the patch saves, or to rule it out of a bug).
"""

from __future__ import annotations

import os

from rich.color import ColorSystem
from rich.console import Console
from rich.control import Control

from tuitune.ui.widgets.lines import single_width

_PATCHED = False


def install() -> bool:
    """Make partial updates send only the dirty spans; True if installed."""
    global _PATCHED
    if _PATCHED:
        return True
    if os.environ.get("TUITUNE_TEXTUAL_PATCH", "1") == "0":
        return False
    try:
        from textual._compositor import ChopsUpdate
    except ImportError:  # pragma: no cover - a Textual without it
        return False
    original = getattr(ChopsUpdate, "render_segments", None)
    if original is None or "chop_ends" not in original.__code__.co_names:
        return False
    ChopsUpdate.render_segments = _render_segments  # type: ignore[method-assign]
    _PATCHED = True
    return True


def _render_segments(self, console: Console) -> str:
    """`ChopsUpdate.render_segments`, cropping each chop to the span's x extents."""
    from textual.strip import Strip

    sequences: list[str] = []
    append = sequences.append
    move_to = Control.move_to
    color_system = console._color_system or ColorSystem.TRUECOLOR
    render_style = Strip.render_style
    chops = self.chops
    chop_ends = self.chop_ends
    last_y = self.spans[-1][0]
    for y, x1, x2 in self.spans:
        line = chops[y]
        ends = chop_ends[y]
        for end, (x, strip) in zip(ends, line.items(), strict=False):
            if strip is None or x > x2 or end <= x1:
                continue
            stop = min(end, x2) - x
            start = max(0, x1 - x)
            text = _slice(strip, start, stop, render_style, color_system)
            if text is None:  # wide characters: crop by cells, from the chop's start
                start = 0
                text = strip.crop(0, stop).render(console)
            append(move_to(x + start, y).segment.text)
            append(text)
        if y != last_y:
            append("\n")
    return "".join(sequences)


def _slice(strip, start: int, stop: int, render_style, color_system) -> str | None:
    """Cells [start, stop) of a strip rendered, or None if a character in the way is
    not one cell wide (then positions are not string indices)."""
    out: list[str] = []
    pos = 0
    for text, style, control in strip:
        if control:
            return None
        n = len(text)
        end = pos + n
        if end > start:
            if not single_width(text):
                return None
            part = text[max(0, start - pos):stop - pos]
            if part:
                out.append(part if style is None else render_style(style, part, color_system))
        pos = end
        if pos >= stop:
            break
    return "".join(out)
