"""The insight screen's panels drawn as text (pure: testable without an app).

Character plots, not braille: each trial must stay one readable mark, and the
band, the mean and the marks need different glyphs to be told apart in one cell.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from rich.style import Style
from rich.text import Text

from tuitune.insight.marks import CLONE, HAND, PRUNED, SEARCH
from tuitune.core.space import CategoricalParam, Param
from tuitune.ui import fmt, palette

if TYPE_CHECKING:  # the insight package pulls in scipy: not needed to open the screen
    from tuitune.insight.advice import Advice
    from tuitune.insight.importance import Importance
    from tuitune.insight.model import ModelSlice
    from tuitune.insight.parallel import Parallel
    from tuitune.insight.points import TrialPoint

MARKS = {SEARCH: "o", HAND: "H", CLONE: "c", PRUNED: "x"}
BEST_MARK = "*"
BAND = Style(color="blue", dim=True)
MEAN = Style(color="cyan")
EI_STYLE = Style(color="magenta")
_EI_BLOCKS = " ▁▂▃▄▅▆▇█"
#: Parallel coordinates: best trial first in this colour ramp.
RAMP = (Style(color="green", bold=True), Style(color="green"), Style(color="cyan"),
        Style(color="yellow"), Style(color="red"))


def importance_text(imp: Importance, width: int, selected: str | None) -> Text:
    out = Text()
    if imp.note:
        out.append(imp.note, palette.WARN)
        return out
    out.append(f"Importance ({imp.method})\n",
               palette.BOLD)
    name_w = min(max(len(p.name) for p in imp.params), 16)
    bar_w = max(width - name_w - 16, 4)
    for p in imp.params:
        style = palette.CURSOR if p.name == selected else None
        out.append(f"{p.name[:name_w]:<{name_w}} ", style)
        filled = round(p.importance * bar_w)
        out.append("█" * filled, palette.BAR)
        out.append(" " * (bar_w - filled))
        out.append(f" {p.importance:5.1%} n={p.n_trials}\n", palette.DIM)
    return out


def advice_text(advice: Sequence[Advice], selected: int, width: int,
                max_lines: int | None = None) -> Text:
    """One line per advice, then the selected one's evidence wrapped (it restates
    what the title says, with the numbers): at 80 columns the panel is 38 wide, and
    lines cut there hid the zoom's ranges and the evidence. Past `max_lines` the rest
    is left out, the last line ending in … (the whole is in `tuitune insight RUN`)."""
    out = Text()
    out.append("Advice  (↑↓ choose · enter acts)\n" if advice else "Advice: none\n",
               palette.BOLD)
    if not advice:
        return out
    selected = min(selected, len(advice) - 1)
    titles = [a.title + ("" if a.command is None else f" [{a.command}]") for a in advice]
    for i, title in enumerate(titles):
        mark = "›" if i == selected else " "
        out.append(_clip(f"{mark} {title}", width) + "\n",
                   palette.CURSOR if i == selected else None)
    wrap = max(width, 12)
    detail: list[tuple[str, Style | None]] = []
    for evidence in advice[selected].evidence:
        detail += [(line, palette.DIM) for line in textwrap.wrap(
            evidence, wrap, initial_indent="    ", subsequent_indent="      ")]
    room = len(detail) if max_lines is None else max(max_lines - 1 - len(titles), 1)
    if len(detail) > room:
        detail = detail[:room]
        line, style = detail[-1]
        detail[-1] = (line + " …" if len(line) + 2 <= width
                      else line[: max(width - 1, 0)] + "…", style)
    for line, style in detail:
        out.append(line + "\n", style)
    return out


def _clip(line: str, width: int) -> str:
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


def slice_text(points: Sequence[TrialPoint], param: Param, model: ModelSlice | None,
               width: int, height: int, mode: str) -> Text:
    """Objective against the parameter (unit axis: log for log parameters), one mark
    per trial, the GP mean and ±2σ band through the incumbent, EI in the last row."""
    out = Text()
    head = f"Slice ←→: {param.name} ({param.describe()})"
    legend = f"  o search  H hand  c clone  x pruned  {BEST_MARK} best  ─ GP mean  ░ ±2σ"
    out.append(head, palette.BOLD)
    out.append(legend[: max(width - len(head), 0)] + "\n", palette.DIM)
    label_w = 9
    plot_w, plot_h = max(width - label_w, 10), max(height - 4, 3)
    placed = _placed(points, param)
    finite = [p.value for _, p in placed if p.value is not None]
    if not placed:
        out.append("no finished trial to show yet\n", palette.DIM)
        return out
    lo, hi = _y_range(finite, model)
    grid: list[list[tuple[str, Style | None]]] = [[(" ", None)] * plot_w
                                                  for _ in range(plot_h)]

    def row_of(v: float) -> int:
        frac = (v - lo) / (hi - lo) if hi > lo else 0.5
        if mode == "max":
            frac = 1 - frac
        return int(round(min(max(frac, 0.0), 1.0) * (plot_h - 1)))  # best at the bottom

    def col_of(u: float) -> int:
        return int(round(min(max(u, 0.0), 1.0) * (plot_w - 1)))

    if model is not None:
        units, mean, low, high = model.units, model.mean, model.low, model.high
        if not param.discrete:  # one model point per column, no gaps between them
            units = np.linspace(0.0, 1.0, plot_w)
            mean, low, high = (np.interp(units, model.units, a) for a in (mean, low, high))
        for u, m, a, b in zip(units, mean, low, high, strict=True):
            c = col_of(float(u))
            r0, r1 = sorted((row_of(float(a)), row_of(float(b))))
            for r in range(r0, r1 + 1):
                grid[r][c] = ("░", BAND)
            grid[row_of(float(m))][c] = ("─", MEAN)
    best = min((p for _, p in placed), key=lambda p: (p.loss, p.id))
    worst_row = plot_h - 1 if mode == "min" else 0
    for u, p in sorted(placed, key=lambda up: -up[1].loss if math.isfinite(up[1].loss) else 0):
        r = row_of(p.value) if p.value is not None else worst_row
        glyph = MARKS.get(p.mark, "o")
        style = palette.state_style(p.state) if p.mark == PRUNED else palette.ACCENT
        grid[r][col_of(u)] = (glyph, style)
    if best.value is not None:
        grid[row_of(best.value)][col_of(_unit(param, best))] = (BEST_MARK, palette.STAR)
    for r in range(plot_h):  # printed top down; grid row 0 (the best values) is last
        g = plot_h - 1 - r
        frac = g / (plot_h - 1) if plot_h > 1 else 0.5
        v = lo + frac * (hi - lo) if mode == "min" else hi - frac * (hi - lo)
        label = fmt.value(v) if r in (0, plot_h - 1, plot_h // 2) else ""
        out.append(f"{label[: label_w - 1]:>{label_w - 1}} ", palette.DIM)
        for ch, st in grid[g]:
            out.append(ch, st)
        out.append("\n")
    out.append(" " * label_w)
    out.append(_ei_row(model, plot_w) + "\n", EI_STYLE)
    out.append(f"{'EI':>{label_w - 1}} " if model is not None else "", palette.DIM)
    out.append(_x_labels(param, plot_w), palette.DIM)
    return out


def _placed(points: Sequence[TrialPoint], param: Param) -> list[tuple[float, TrialPoint]]:
    out = []
    for p in points:
        u = _unit(param, p)
        if u is not None and -1e-9 <= u <= 1 + 1e-9:
            out.append((u, p))
    return out


def _unit(param: Param, p: TrialPoint) -> float | None:
    try:
        return float(param.to_unit(p.params[param.name]))
    except (KeyError, ValueError, TypeError):
        return None


def _y_range(values: Sequence[float], model: ModelSlice | None) -> tuple[float, float]:
    """The trials' range, widened by a tenth; the band may add up to half of it."""
    if not values:
        return 0.0, 1.0
    lo, hi = float(min(values)), float(max(values))
    pad = (hi - lo) * 0.1 or abs(hi) * 0.1 or 1.0
    lo, hi = lo - pad, hi + pad
    if model is not None:
        span = hi - lo
        lo = max(min(lo, float(np.min(model.low))), lo - span / 2)
        hi = min(max(hi, float(np.max(model.high))), hi + span / 2)
    return lo, hi


def _ei_row(model: ModelSlice | None, width: int) -> str:
    if model is None:
        return "(no model yet: it needs two finished trials)"[:width]
    cols = np.zeros(width)
    for u, e in zip(model.units, model.ei, strict=True):
        c = int(round(float(u) * (width - 1)))
        cols[c] = max(cols[c], float(e))
    if len(model.units) > 8:  # continuous: fill the columns between line points
        xs = np.linspace(0, 1, width)
        cols = np.interp(xs, model.units, model.ei)
    return "".join(_EI_BLOCKS[int(round(v * (len(_EI_BLOCKS) - 1)))] for v in cols)


def _x_labels(param: Param, width: int) -> str:
    if isinstance(param, CategoricalParam):
        line = [" "] * width
        for c in param.choices:
            text = str(c)
            at = int(round(param.to_unit(c) * (width - 1))) - len(text) // 2
            at = min(max(at, 0), max(width - len(text), 0))
            line[at: at + len(text)] = list(text)[: width - at]
        return "".join(line)[:width]
    left, mid, right = (_value_label(param.from_unit(u)) for u in (0.0, 0.5, 1.0))
    gap = max(width - len(left) - len(mid) - len(right), 2)
    return (left + " " * (gap // 2) + mid + " " * (gap - gap // 2) + right)[:width]


def _value_label(v: object) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def parallel_text(par: Parallel, width: int, height: int, n_best: int) -> Text:
    """One column per parameter, one polyline per trial (best drawn last, greenest)."""
    out = Text()
    out.append(f"Parallel coordinates: best {len(par.lines)} (+/- changes N, now {n_best})\n",
               palette.BOLD)
    if not par.lines or not par.axes:
        out.append("no finished trial with a value yet\n", palette.DIM)
        return out
    plot_h = max(height - 3, 3)
    n_axes = len(par.axes)
    xs = [int(round(i * (width - 1) / max(n_axes - 1, 1))) for i in range(n_axes)]
    grid: list[list[tuple[str, Style | None]]] = [[(" ", None)] * width for _ in range(plot_h)]
    for x in xs:
        for r in range(plot_h):
            grid[r][x] = ("│", palette.DIM)
    ranked = list(enumerate(par.lines))
    for rank, line in reversed(ranked):  # best last, on top
        style = RAMP[min(rank * len(RAMP) // max(len(par.lines), 1), len(RAMP) - 1)]
        rows = [None if u is None else int(round((1 - u) * (plot_h - 1)))
                for u in line.positions]
        for i in range(n_axes - 1):
            r0, r1 = rows[i], rows[i + 1]
            if r0 is None or r1 is None:
                continue
            for x in range(xs[i] + 1, xs[i + 1]):
                t = (x - xs[i]) / max(xs[i + 1] - xs[i], 1)
                grid[int(round(r0 + (r1 - r0) * t))][x] = ("·", style)
        for x, r in zip(xs, rows, strict=True):
            if r is not None:
                grid[r][x] = ("●", style)
    for row in grid:
        for ch, st in row:
            out.append(ch, st)
        out.append("\n")
    labels = [" "] * width
    for x, name in zip(xs, par.axes, strict=True):
        at = min(max(x - len(name) // 2, 0), max(width - len(name), 0))
        labels[at: at + len(name)] = list(name)[: width - at]
    out.append("".join(labels)[:width], palette.DIM)
    return out


def front_text(points: Sequence[tuple[float, float, str]], names: tuple[str, str],
               width: int, height: int) -> Text:
    """Several objectives: the trials in the plane of the first two objectives, each
    in its own direction; ◆ on the Pareto front, · another feasible trial, × an
    infeasible one. `points` are (objective 1, objective 2, mark) with the marks of
    client/front.py ("front", "infeasible: ...", "")."""
    out = Text()
    n_front = sum(1 for *_, m in points if m == "front")
    out.append(f"Pareto front: {n_front} of {len(points)} trials (◆ front, · feasible, "
               "× infeasible)\n", palette.BOLD)
    shown = [(a, b, m) for a, b, m in points if math.isfinite(a) and math.isfinite(b)]
    if not shown:
        out.append(f"no finished trial reported {names[0]} and {names[1]} yet\n", palette.DIM)
        return out
    label_w = 9
    plot_w, plot_h = max(width - label_w - 1, 10), max(height - 3, 3)
    xs, ys = [a for a, _, _ in shown], [b for _, b, _ in shown]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    grid: list[list[tuple[str, Style | None]]] = [[(" ", None)] * plot_w for _ in range(plot_h)]
    order = sorted(shown, key=lambda p: p[2] == "front")  # the front drawn last, on top
    for a, b, mark in order:
        col = int(round((a - x0) / (x1 - x0) * (plot_w - 1))) if x1 > x0 else plot_w // 2
        row = int(round((y1 - b) / (y1 - y0) * (plot_h - 1))) if y1 > y0 else plot_h // 2
        glyph = ("◆", palette.STAR) if mark == "front" else (
            ("×", palette.WARN) if mark.startswith("infeasible") else ("·", None))
        grid[row][col] = glyph
    for r, line in enumerate(grid):
        label = fmt.value(y1) if r == 0 else fmt.value(y0) if r == plot_h - 1 else ""
        out.append(label.rjust(label_w)[:label_w] + "│", palette.DIM)
        for ch, st in line:
            out.append(ch, st)
        out.append("\n")
    left, right = fmt.value(x0), fmt.value(x1)
    axis = left + " " * max(plot_w - len(left) - len(right), 1) + right
    out.append(" " * (label_w + 1) + axis[:plot_w] + "\n", palette.DIM)
    out.append(" " * (label_w + 1) + f"x: {names[0]}  y: {names[1]}"[:plot_w], palette.DIM)
    return out
