"""ASCII drawing for terminals without a UTF-8 locale (issue 14, item 6).

Over SSH without a UTF-8 locale (a common default) a terminal, or tmux, shows
braille, blocks and box lines as `_`, `q` and `x`. `needs_ascii()` tells it from
the environment; `activate()` then swaps, one for one, every non-ASCII character
of every line Textual is about to draw, so the layout stays as it is (the table of
stand-ins is core/ascii_text.py's, which the CLI uses too).

Done at the compositor (what the terminal and screenshots receive), so Textual's own
widgets (borders, footer, tabs, scrollbars) are covered as well as ours.
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.segment import Segment
from textual.strip import Strip

# The locale test and the character table are the CLI's too (it prints no Textual).
from tuitune.core.ascii_text import (  # noqa: F401  (re-exported: glyphs.to_ascii, ...)
    ascii_char,
    locale_is_utf8,
    needs_ascii,
    to_ascii,
)

#: One line, whole at 80 columns (a toast on the footer's line cuts what is longer).
NOTICE = "no UTF-8 locale: drawing with ASCII (LANG=C.UTF-8 for the full charts)"


def ascii_strip(strip: Strip) -> Strip:
    """The strip with its text in ASCII (same cells, same styles)."""
    if all(seg.text.isascii() for seg in strip):
        return strip
    return Strip([Segment(to_ascii(text), style, control) for text, style, control in strip],
                 strip.cell_length)


_active = False
_installed = False


def active() -> bool:
    return _active


def activate(on: bool = True) -> None:
    """Draw every line in ASCII from now on (or stop: `activate(False)`)."""
    global _active, _installed
    _active = on
    if on and not _installed:
        from textual._compositor import Compositor

        original = Compositor._get_renders

        def _get_renders(self, crop=None) -> Iterator:  # type: ignore[no-untyped-def]
            renders = original(self, crop)
            if not _active:
                yield from renders
                return
            for region, clip, strips in renders:
                yield region, clip, [ascii_strip(s) for s in strips]

        Compositor._get_renders = _get_renders  # type: ignore[method-assign]
        _installed = True
