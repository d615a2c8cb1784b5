"""A widget drawn as lines of styled runs, that repaints only the cells that changed.

Textual repaints dirty regions cell by cell, and `refresh()` dirties the whole
widget: a table where one number changes would resend every cell. Here each
redraw computes the new lines, compares them with what is on screen, and marks
dirty only the changed spans of the changed lines. Runs of equal style are one
segment, so a sparkline costs one colour code, not one per cell.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

#: A line as runs of (text, style); text should be single-width characters.
Run = tuple[str, Style | None]
Line = Sequence[Run]

#: Spans of changed cells closer than this are merged (a cursor move costs bytes too).
_MERGE_GAP = 6


def to_strip(line: Line, width: int) -> Strip:
    """Runs as a Strip of exactly `width` cells, equal styles merged."""
    segments: list[Segment] = []
    cells = 0
    narrow = True
    for text, style in line:
        if not text:
            continue
        if narrow and not single_width(text):
            narrow = False
        cells += len(text)
        if segments and segments[-1].style == style:
            segments[-1] = Segment(segments[-1].text + text, style)
        else:
            segments.append(Segment(text, style))
    if not narrow or cells > width:
        return Strip(segments).adjust_cell_length(width)
    if cells < width:
        segments.append(Segment(" " * (width - cells)))
    return Strip(segments, width)


_WIDTHS: dict[str, bool] = {}


def single_width(text: str) -> bool:
    """Every character takes one cell (ASCII, braille, blocks, box drawing...)."""
    if text.isascii():
        return True
    known = _WIDTHS.get(text)
    if known is None:
        known = cell_len(text) == len(text)
        if len(_WIDTHS) < 4096:
            _WIDTHS[text] = known
    return known


def changed_spans(old: Strip, new: Strip) -> list[tuple[int, int]] | None:
    """Cell ranges [start, end) that differ; None when a full-line repaint is simpler."""
    old_text, new_text = old.text, new.text
    if len(old_text) != cell_len(old_text) or len(new_text) != cell_len(new_text):
        return None  # wide characters: positions are not string indices
    if len(old_text) != len(new_text):
        return None
    old_styles = _cell_styles(old)
    new_styles = _cell_styles(new)
    spans: list[tuple[int, int]] = []
    start = -1
    for i, (a, b) in enumerate(zip(old_text, new_text, strict=True)):
        same = a == b and old_styles[i] == new_styles[i]
        if not same and start < 0:
            start = i
        elif same and start >= 0:
            spans.append((start, i))
            start = -1
    if start >= 0:
        spans.append((start, len(new_text)))
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s - merged[-1][1] < _MERGE_GAP:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def run_spans(old: tuple[Run, ...], new: tuple[Run, ...], width: int
              ) -> list[tuple[int, int]] | None:
    """Changed cell ranges found run by run, when both lines have runs of the same
    lengths (a table row whose numbers changed); None when the shapes differ."""
    if len(old) != len(new):
        return None
    spans: list[tuple[int, int]] = []
    x = 0
    for (old_text, old_style), (text, style) in zip(old, new, strict=True):
        n = len(text)
        if len(old_text) != n:
            return None
        if old_text != text or old_style != style:
            if not single_width(text) or not single_width(old_text):
                return None
            if old_style != style:
                spans.append((x, x + n))
            else:
                first = next(i for i in range(n) if old_text[i] != text[i])
                last = next(i for i in range(n - 1, -1, -1) if old_text[i] != text[i])
                spans.append((x + first, x + last + 1))
        x += n
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        s, e = min(s, width), min(e, width)
        if s >= e:
            continue
        if merged and s - merged[-1][1] < _MERGE_GAP:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def _cell_styles(strip: Strip) -> list[Style | None]:
    out: list[Style | None] = []
    for seg in strip:
        out.extend([seg.style] * len(seg.text))
    return out


class LineWidget(Widget):
    """Base: subclasses implement `build(width, height) -> list[Line]` and call
    `redraw()` when their data changes."""

    DEFAULT_CSS = """
    LineWidget { height: 1fr; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._strips: list[Strip] = []
        self._lines: list[tuple[Run, ...]] = []
        self._redraw_scheduled = False
        self._built_for: tuple[int, int] = (0, 0)

    def build(self, width: int, height: int) -> list[Line]:  # pragma: no cover - abstract
        raise NotImplementedError

    def redraw_soon(self) -> None:
        """Redraw once after the current handler, however many changes it makes."""
        if not self._redraw_scheduled:
            self._redraw_scheduled = True
            self.call_next(self._scheduled_redraw)

    def _scheduled_redraw(self) -> None:
        self._redraw_scheduled = False
        self.redraw()

    def redraw(self) -> None:
        """Rebuild the lines and repaint the cells that changed."""
        width, height = self.size
        if width <= 0 or height <= 0:
            return
        lines = [tuple(line) for line in self.build(width, height)[:height]]
        lines += [()] * (height - len(lines))
        if (width, height) != self._built_for or not self._strips:
            self._lines = lines
            self._strips = [to_strip(line, width) for line in lines]
            self._built_for = (width, height)
            self.refresh()
            return
        regions = []
        for y, (old_line, line) in enumerate(zip(self._lines, lines, strict=True)):
            if old_line is line or old_line == line:
                continue
            old, new = self._strips[y], to_strip(line, width)
            self._strips[y] = new
            spans = run_spans(old_line, line, width)
            if spans is None:
                spans = changed_spans(old, new)
            if spans is None:
                regions.append(Region(0, y, width, 1))
            else:
                regions.extend(Region(s, y, e - s, 1) for s, e in spans)
        self._lines = lines
        if regions:
            self.refresh(*regions)

    def on_resize(self) -> None:
        self._strips = []
        self.redraw()

    def on_mount(self) -> None:
        self.redraw()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if 0 <= y < len(self._strips):
            strip = self._strips[y]
            return strip if strip.cell_length == width else strip.adjust_cell_length(width)
        return Strip.blank(width)

    def lines_text(self) -> list[str]:
        """What the widget shows, as plain text (tests)."""
        return [s.text for s in self._strips]
