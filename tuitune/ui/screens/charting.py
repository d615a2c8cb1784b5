"""Building chart data from the view: which curves, colours and markers. No widgets."""

from __future__ import annotations

from collections.abc import Iterable

from rich.style import Style

from tuitune.ui import palette
from tuitune.ui.records import TrialRow
from tuitune.ui.view import RunView
from tuitune.ui.widgets.chart import ChartData, Marker, Series

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


def build_chart(view: RunView, metric: str, trial_ids: list[int], log_y: bool, smooth: bool,
                x_max: int | None) -> ChartData:
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
    title = metric
    if not trial_ids:
        empty = "select a trial to chart it"
    elif not any(view.curves.get((t, metric)) is not None for t in trial_ids):
        empty = f"loading {metric}…" if view.loaded else "loading…"
    else:
        empty = f"no {metric} points yet"
    return ChartData(title, tuple(series), tuple(markers), log_y, smooth, x_max, empty)
