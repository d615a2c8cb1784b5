"""Building chart data from the view: which curves, colours and markers. No widgets."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
from rich.style import Style

from tuitune.ui import palette
from tuitune.ui.records import TrialRow
from tuitune.ui.view import RunView
from tuitune.ui.widgets.chart import ChartData, Marker, Series

#: Names of validation metrics start with one of these (`val_loss` pairs with `loss`).
VAL_PREFIXES = ("val_", "validation_", "valid_", "test_")
#: Most pinned trials overlaid besides the selected one.
MAX_PINNED = 7


def chart_trials(selected: int | None, pinned: Iterable[int]) -> list[int]:
    """Selected first, then pinned ones (without repeats)."""
    out = [selected] if selected is not None else []
    for tid in pinned:
        if tid not in out and len(out) <= MAX_PINNED:
            out.append(tid)
    return out


def markers_for(view: RunView, row: TrialRow, style: Style) -> list[Marker]:
    """Tweaks of the trial (t), its own clone point and the points it was cloned at (c)."""
    out = [Marker(c.step, "t", style) for c in row.changes if c.step is not None]
    if row.clone_step is not None:
        out.append(Marker(row.clone_step, "c", style))
    for child in view.children(row.id):
        if child.clone_step is not None:
            out.append(Marker(child.clone_step, "c", style))
    return out

if TYPE_CHECKING:
    from tuitune.client.reference import Reference


def reference_series(reference: Reference | None, metric: str) -> list[Series]:
    """The pinned reference (another run's best trial) for `metric`, dotted; [] if none."""
    if reference is None or metric not in reference.curves:
        return []
    steps, values = reference.curves[metric]
    return [Series(reference.label, palette.REFERENCE, steps, values, stroke="dotted")]


def build_chart(view: RunView, metric: str, trial_ids: list[int], log_y: bool, smooth: bool,
                x_max: int | None, reference: Reference | None = None) -> ChartData:
    series: list[Series] = []
    markers: list[Marker] = []
    # The selected trial is drawn last so it stays on top.
    for i, tid in reversed(list(enumerate(trial_ids))):
        curve = view.curves.get((tid, metric))
        row = view.rows.get(tid)
        if curve is None or row is None:
            continue
        style = palette.SERIES[i % len(palette.SERIES)]
        label = f"#{tid}" + ("*" if row.starred else "")
        series.append(Series(label, style, curve.steps, curve.values))
        if i == 0:
            markers = markers_for(view, row, style)
    series.reverse()
    if series:
        series += reference_series(reference, metric)
    title = metric
    if not trial_ids:
        empty = "select a trial to chart it"
    elif all(t < 0 for t in trial_ids):  # a warm start's row: no curve in this run
        empty = f"trial {trial_ids[0]} was imported: its curve is in its own run"
    elif not any(view.curves.get((t, metric)) is not None for t in trial_ids):
        empty = f"loading {metric}…" if view.loaded else "loading…"
    else:
        empty = f"no {metric} points yet"
    return ChartData(title, tuple(series), tuple(markers), log_y, smooth, x_max, empty)


def zoom_start(last_step: float | None, fraction: float | None) -> float | None:
    """Where a zoom to the last `fraction` of the steps starts: the span rounded to
    1, 2 or 5 times a power of ten ("last 200 steps"); None shows every step."""
    if fraction is None or last_step is None or last_step <= 1:
        return None
    span = last_step * fraction
    power = 10 ** math.floor(math.log10(span))
    nice = max(1.0, max(m * power for m in (1, 2, 5) if m * power <= span))
    return last_step - nice


def move_cursor(steps: np.ndarray, current: float | None, by: int) -> float | None:
    """The cursor `by` stops along `steps` (ascending) from `current`; with no cursor
    yet, the newest step (where a user looks first)."""
    if not len(steps):
        return current
    if current is None:
        return float(steps[-1])
    i = int(np.searchsorted(steps, current, side="left"))  # first stop >= current
    exact = i < len(steps) and steps[i] == current
    if not exact and by > 0:
        by -= 1  # between two stops: the first one on is steps[i] itself
    i = min(len(steps) - 1, max(0, i + by))
    return float(steps[i])
