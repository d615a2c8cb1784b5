"""A braille line chart of one metric for several trials, drawn by hand.

Each cell holds 2x4 dots. Curves are reduced to per-dot-column (min, max)
before drawing, so a 100k-point curve costs what a 200-point one does, and a
spike still shows. A cell hit by several curves takes the colour of the one
drawn last (the selected trial is drawn last). Markers under the x axis show
where a tweak (t) or a clone (c) happened.

A cursor (a step) reads out every curve's exact value there on the last line,
and the x range can be narrowed to the last steps (zoom): the y axis then fits
what is shown, so the tail of a long run is readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from rich.style import Style
from textual import events
from textual.message import Message

from tuitune.ui import palette
from tuitune.core.numfmt import align_decimals, column_number
from tuitune.ui.series import column_minmax, ema, nice_number
from tuitune.ui.widgets.lines import Line, LineWidget, Run

_DOT = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][col]
_Y_LABEL = 8

#: How a curve is stroked, so that curves on one axis tell apart without colour (a
#: monochrome terminal, or ASCII drawing where every curve becomes ' - . |): a
#: trial's curve is solid, its validation twin on the same axis dashed, a reference
#: from another run dotted.
Stroke = Literal["solid", "dashed", "dotted"]
#: The legend's sample of each stroke (ASCII drawing turns them into -, - - and ...).
_LEGEND: dict[str, str] = {"solid": "━", "dashed": "━ ━", "dotted": "···"}
#: Of every `period` cells along x, the first `on` are drawn.
_STROKE_CELLS: dict[str, tuple[int, int]] = {"dashed": (4, 2), "dotted": (2, 1)}


@dataclass(frozen=True)
class Series:
    label: str
    style: Style
    steps: np.ndarray
    values: np.ndarray
    stroke: Stroke = "solid"


@dataclass(frozen=True)
class Marker:
    step: float
    glyph: str  # one character
    style: Style


@dataclass(frozen=True)
class ChartData:
    title: str
    series: tuple[Series, ...] = ()
    markers: tuple[Marker, ...] = ()
    log_y: bool = False
    smooth: bool = False
    x_max: float | None = None
    empty: str = "no points yet"
    x_min: float | None = None  # zoom: only steps from here on are drawn
    cursor: float | None = None  # a step whose values are read out under the chart


class Chart(LineWidget):
    """Draws `ChartData`; call `show(data)` to change it. A click on the plot posts
    `Chart.Clicked` with the step under the pointer (the screen moves its cursor)."""

    class Clicked(Message):
        def __init__(self, chart: Chart, step: float) -> None:
            super().__init__()
            self.chart = chart
            self.step = step

    DEFAULT_CSS = """
    Chart { height: 1fr; min-height: 5; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data = ChartData("")

    def show(self, data: ChartData) -> None:
        self.data = data
        self.redraw()

    def build(self, width: int, height: int) -> list[Line]:
        return draw(self.data, width, height)

    def on_click(self, event: events.Click) -> None:
        step = step_at(self.data, self.size.width, event.x)
        if step is not None:
            self.post_message(self.Clicked(self, step))


def draw(data: ChartData, width: int, height: int) -> list[Line]:
    """The chart as lines of runs (pure: unit-testable without an app)."""
    title = _title(data, width)
    if height < 4 or width < _Y_LABEL + 8:
        return [title]
    readout = data.cursor is not None and height >= 6
    plot_w, plot_h = width - _Y_LABEL - 1, height - 3 - readout
    prepared = _visible(data)
    if not prepared:
        pad = max(0, (width - len(data.empty)) // 2)
        lines: list[Line] = [title] + [[]] * (plot_h // 2)
        return lines + [[(" " * pad + data.empty, palette.DIM)]]
    x_lo, x_hi = _x_range(data, prepared)
    finite = np.concatenate([y[np.isfinite(y)] for _, _, y in prepared])
    if not len(finite):
        return [title, [("  no finite values to draw" + (" (log scale drops values <= 0)"
                                                        if data.log_y else ""), palette.DIM)]]
    y_lo, y_hi = float(finite.min()), float(finite.max())
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - 0.5 * (abs(y_lo) or 1.0), y_hi + 0.5 * (abs(y_hi) or 1.0)
    bits = np.zeros((plot_h, plot_w), dtype=np.int32)
    owner = np.full((plot_h, plot_w), -1, dtype=np.int32)
    for i, (s, x, y) in enumerate(prepared):
        _plot(bits, owner, i, x, y, x_lo, x_hi, y_lo, y_hi, s.stroke)
    styles = [s.style for s, _, _ in prepared]
    cursor_col = (-1 if data.cursor is None
                  else _column(data.cursor, x_lo, x_hi, plot_w))
    lines = [title]
    labels = _y_labels(plot_h, y_lo, y_hi, data.log_y)
    for row in range(plot_h):
        runs: list[Run] = [(labels[row].rjust(_Y_LABEL), palette.DIM), ("│", palette.DIM)]
        runs += _plot_row(bits[row], owner[row], styles, cursor_col)
        lines.append(runs)
    lines.append(_axis(data.markers, plot_w, x_lo, x_hi))
    lo_text, hi_text = nice_number(x_lo), nice_number(x_hi)
    gap = max(1, plot_w - len(lo_text) - len(hi_text))
    zoom = f" last {nice_number(x_hi - x_lo)} steps " if data.x_min is not None else ""
    if zoom and len(zoom) < gap - 2:  # said between the ends of the axis
        left = (gap - len(zoom)) // 2
        middle = " " * left + zoom + " " * (gap - left - len(zoom))
    else:
        middle = " " * gap
    lines.append([(" " * (_Y_LABEL + 1) + lo_text + middle + hi_text, palette.DIM)])
    if readout:
        assert data.cursor is not None
        lines.append(_readout(data.cursor, [s for s, _, _ in prepared]))
    return lines


def _visible(data: ChartData) -> list[tuple[Series, np.ndarray, np.ndarray]]:
    """The series as drawn (smoothed, log, cut to the zoom), those with points."""
    prepared = [_prepare(s, data) for s in data.series]
    return [(s, x, y) for s, x, y in prepared if len(x)]


def _x_range(data: ChartData, prepared: Sequence[tuple[Series, np.ndarray, np.ndarray]]
             ) -> tuple[float, float]:
    x_lo = min(float(x[0]) for _, x, _ in prepared)
    x_hi = max(float(x[-1]) for _, x, _ in prepared)
    if data.x_max and data.x_max > x_hi:
        x_hi = float(data.x_max)
    if data.x_min is not None:
        return min(float(data.x_min), x_hi), x_hi
    x_lo = min(x_lo, 0.0) if x_lo >= 0 and x_lo <= 1 else x_lo
    return x_lo, x_hi


def _column(step: float, x_lo: float, x_hi: float, plot_w: int) -> int:
    span = x_hi - x_lo
    if span <= 0:
        return 0
    return int(min(plot_w - 1, max(0, (step - x_lo) / span * plot_w)))


def _plot_row(row_bits: np.ndarray, row_owner: np.ndarray, styles: Sequence[Style],
              cursor_col: int) -> list[Run]:
    """One run per stretch of cells with the same owner; the cursor's cell reversed."""
    runs: list[Run] = []
    plot_w = len(row_bits)
    start = 0
    while start < plot_w:
        who = row_owner[start]
        end = start + 1
        if start != cursor_col:
            while end < plot_w and end != cursor_col and row_owner[end] == who:
                end += 1
        style = None if who < 0 else styles[who]
        text = (" " * (end - start) if who < 0
                else "".join(chr(0x2800 + int(b)) for b in row_bits[start:end]))
        if start == cursor_col:
            style = palette.CURSOR if style is None else style + palette.CURSOR
        runs.append((text, style))
        start = end
    return runs


def value_at(series: Series, step: float) -> tuple[float, float] | None:
    """The series' last point at or before `step` (step, value), exact (not smoothed)."""
    steps = np.asarray(series.steps, dtype=float)
    i = int(np.searchsorted(steps, step, side="right")) - 1
    if i < 0:
        return None
    return float(steps[i]), float(np.asarray(series.values, dtype=float)[i])


def _readout(cursor: float, series: Sequence[Series]) -> Line:
    runs: list[Run] = [(f" step {nice_number(cursor)}", palette.BOLD)]
    for s in series:
        found = value_at(s, cursor)
        text = "-" if found is None else nice_number(found[1]) + (
            f" @{nice_number(found[0])}" if found[0] != cursor else "")
        runs += [(f"  {s.label} ", s.style), (text, None)]
    return runs


def cursor_steps(data: ChartData) -> np.ndarray:
    """Every step a drawn curve has a point at (inside the zoom), ascending: where the
    cursor can stop."""
    arrays = [np.asarray(s.steps, dtype=float) for s in data.series if len(s.steps)]
    if not arrays:
        return np.zeros(0)
    steps = np.unique(np.concatenate(arrays))
    return steps[steps >= data.x_min] if data.x_min is not None else steps


def step_at(data: ChartData, width: int, x: int) -> float | None:
    """The drawn step nearest to column `x` of a chart `width` cells wide (a click)."""
    prepared = _visible(data)
    plot_w = width - _Y_LABEL - 1
    if not prepared or plot_w <= 0 or x <= _Y_LABEL:
        return None
    x_lo, x_hi = _x_range(data, prepared)
    wanted = x_lo + (x - _Y_LABEL - 1 + 0.5) / plot_w * (x_hi - x_lo)
    steps = cursor_steps(data)
    if not len(steps):
        return None
    return float(steps[int(np.argmin(np.abs(steps - wanted)))])


def _title(data: ChartData, width: int) -> list[Run]:
    runs: list[Run] = [(f" {data.title}", palette.BOLD)]
    for s in data.series:
        runs += [("  ", None), (_LEGEND[s.stroke], s.style), (f" {s.label}", s.style)]
    flags = [f for f, on in (("log", data.log_y), ("smooth", data.smooth)) if on]
    if flags:
        runs.append((f"  [{' '.join(flags)}]", palette.DIM))
    if data.markers:
        runs.append(("  t tweak c clone", palette.DIM))
    return runs


def _prepare(s: Series, data: ChartData) -> tuple[Series, np.ndarray, np.ndarray]:
    x = np.asarray(s.steps, dtype=float)
    y = np.asarray(s.values, dtype=float)
    if data.smooth and len(y) > 2:
        y = ema(y)  # over the whole curve, so a zoom shows the same line, cut
    if data.x_min is not None:
        keep = x >= data.x_min
        x, y = x[keep], y[keep]
    if data.log_y:
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(y > 0, np.log10(np.where(y > 0, y, 1.0)), np.nan)
    return s, x, y


def _plot(bits: np.ndarray, owner: np.ndarray, index: int, x: np.ndarray, y: np.ndarray,
          x_lo: float, x_hi: float, y_lo: float, y_hi: float, stroke: Stroke = "solid") -> None:
    """OR one curve's dots into `bits` (per cell), marking the cells it owns."""
    plot_h, plot_w = bits.shape
    dots_w, dots_h = plot_w * 2, plot_h * 4
    lo, hi = column_minmax(x, y, x_lo, x_hi if x_hi > x_lo else x_lo + 1, dots_w)
    filled = np.flatnonzero(~np.isnan(lo))
    if not len(filled):
        return
    cols = np.arange(filled[0], filled[-1] + 1)
    if len(filled) > 1:  # sparse points: straight segments between them
        mid = (lo[filled] + hi[filled]) / 2
        gaps = cols[np.isnan(lo[cols])]
        lo[gaps] = hi[gaps] = np.interp(gaps, filled, mid)
    scale = (dots_h - 1) / (y_hi - y_lo)
    top = np.rint((y_hi - hi[cols]) * scale).astype(int)
    bottom = np.rint((y_hi - lo[cols]) * scale).astype(int)
    centre = (top + bottom) // 2
    # join each column to the previous one's centre so the line is unbroken
    top[1:] = np.minimum(top[1:], centre[:-1])
    bottom[1:] = np.maximum(bottom[1:], centre[:-1])
    top = np.clip(top, 0, dots_h - 1)
    bottom = np.clip(bottom, 0, dots_h - 1)
    rows = np.arange(dots_h)[:, None]
    on = np.zeros((dots_h, dots_w), dtype=bool)
    on[:, cols] = (rows >= top[None, :]) & (rows <= bottom[None, :])
    if stroke in _STROKE_CELLS:  # gaps whole cells wide, so ASCII drawing keeps them
        period, kept = _STROKE_CELLS[stroke]
        on[:, (np.arange(dots_w) // 2) % period >= kept] = False
    cells = on.reshape(plot_h, 4, plot_w, 2)
    curve = np.zeros((plot_h, plot_w), dtype=np.int32)
    for r in range(4):
        for c in range(2):
            curve |= cells[:, r, :, c] * _DOT[r][c]
    bits |= curve
    owner[curve > 0] = index


def _y_labels(plot_h: int, y_lo: float, y_hi: float, log_y: bool) -> list[str]:
    """The y axis' labels, one per plot row (top, middle and bottom; the rest empty): a
    column of numbers, so trailing zeros kept and decimal points lined up, never
    wider than the label's cells."""
    labels = [""] * plot_h
    if plot_h < 2:
        return labels
    for row in (0, (plot_h - 1) // 2, plot_h - 1):
        v = y_hi - row / (plot_h - 1) * (y_hi - y_lo)
        labels[row] = column_number(10**v if log_y else v, width=_Y_LABEL)
    aligned = align_decimals(labels)
    return aligned if max(map(len, aligned)) <= _Y_LABEL else labels


def _axis(markers: Sequence[Marker], plot_w: int, x_lo: float, x_hi: float) -> Line:
    cells: list[Run] = [(" " * _Y_LABEL + "└", palette.DIM)]
    axis = [("─", palette.DIM)] * plot_w
    span = x_hi - x_lo
    for m in markers:
        if span <= 0 or not (x_lo <= m.step <= x_hi):
            continue
        col = min(plot_w - 1, int((m.step - x_lo) / span * plot_w))
        axis[col] = (m.glyph, m.style)
    return cells + axis
