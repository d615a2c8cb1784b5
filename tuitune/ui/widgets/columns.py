"""Columns of the trial table: what each shows, how wide, how important. No Textual.

At a given width the table keeps the most important columns that fit (the
detail screen shows everything a narrow table leaves out).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from rich.style import Style

from tuitune.history import ACTIVE_STATES, LIVE_STATES
from tuitune.spec import Spec
from tuitune.system import TrialUsage
from tuitune.ui import fmt, palette
from tuitune.ui.records import TrialRow
from tuitune.ui.series import bar, nice_number, sparkline
from tuitune.ui.widgets.lines import Run


@dataclass(frozen=True)
class Ctx:
    """What a cell may need besides its row."""

    now: float
    max_steps: int | None
    usage: dict[int, TrialUsage]


Cell = Callable[[TrialRow, int, Ctx], list[Run]]


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int
    priority: float  # lower is kept first
    cell: Cell
    align: str = "l"
    grow: bool = False  # takes the width left over


def _text(text: str, width: int, style: Style | None = None, align: str = "l") -> list[Run]:
    return [(fmt.fit(fmt.ascii_safe(text), width, align), style)]


def _id(row: TrialRow, w: int, ctx: Ctx) -> list[Run]:
    mark: list[Run] = [("*", palette.STAR)] if row.starred else [(" ", None)]
    prot = "!" if row.protected else " "
    return mark + _text(str(row.id), w - 2, palette.BOLD, "r") + [(prot, palette.WARN)]


def _state(row: TrialRow, w: int, ctx: Ctx) -> list[Run]:
    return _text(row.state, w, palette.state_style(row.state))


def _origin(row: TrialRow, w: int, ctx: Ctx) -> list[Run]:
    return _text(row.origin_label, w, palette.DIM if row.origin == "manual" else None)


def _step(row: TrialRow, w: int, ctx: Ctx) -> list[Run]:
    bar_w = 5
    text_w = w - bar_w - 1
    if row.step is None:
        return _text("-", text_w, palette.DIM, "r") + [(" " * (bar_w + 1), None)]
    if ctx.max_steps:
        frac = row.step / ctx.max_steps
        return _text(str(row.step), text_w, None, "r") + [
            (" ", None), (bar(frac, bar_w), palette.BAR)]
    return _text(str(row.step), w, None, "r")


def _number(attr: str) -> Cell:
    def cell(row: TrialRow, w: int, ctx: Ctx) -> list[Run]:
        v = getattr(row, attr)
        if v is None:
            return _text("-", w, palette.DIM, "r")
        if not math.isfinite(v):
            return _text("nan" if math.isnan(v) else nice_number(v), w, palette.BAD, "r")
        return _text(nice_number(v), w, palette.GOOD if attr == "best" else None, "r")
    return cell


def _spark(row: TrialRow, w: int, ctx: Ctx) -> list[Run]:
    if not row.spark:
        return [(" " * w, None)]
    return [(sparkline(row.spark, w), palette.SPARK)]


def _elapsed(row: TrialRow, w: int, ctx: Ctx) -> list[Run]:
    style = None if row.state in LIVE_STATES else palette.DIM
    return _text(fmt.duration(row.elapsed(ctx.now)), w, style, "r")


def _gpu(row: TrialRow, w: int, ctx: Ctx) -> list[Run]:
    use = ctx.usage.get(row.id)
    ids = ",".join(map(str, use.gpu_ids)) if use and use.gpu_ids else (row.gpus or "")
    mem = use.gpu_mem_mb if use and use.gpu_ids else None
    if mem is None and row.state not in ACTIVE_STATES:
        mem = row.peak_gpu_mem_mb
    if not ids:
        return _text("-", w, palette.DIM)
    return _text(f"{ids}:{fmt.mb(mem)}" if mem is not None else ids, w)


def _node(row: TrialRow, w: int, ctx: Ctx) -> list[Run]:
    return _text(row.node or "-", w, None if row.node else palette.DIM)


def _note(row: TrialRow, w: int, ctx: Ctx) -> list[Run]:
    return _text(row.note.replace("\n", " "), w, palette.WARN)


def _param(name: str) -> Cell:
    def cell(row: TrialRow, w: int, ctx: Ctx) -> list[Run]:
        now = fmt.value(row.params.get(name))
        if not any(c.name == name and c.step is not None for c in row.changes):
            return _text(now, w, None, "r")
        # Tweaked: it ran a schedule. What it started with, if the cell has room; the
        # arrow always (the detail screen has every change with its step).
        ran = f"{fmt.value(row.initial.get(name))}→{now}"
        return _text(ran if len(ran) <= w else f"→{now}", w, palette.ACCENT, "r")
    return cell


def columns_for(spec: Spec) -> list[Column]:
    """All columns, in display order, for a run's spec."""
    cols = [
        Column("id", "id", 6, 0, _id, "r"),
        Column("state", "state", 9, 1, _state),
        Column("origin", "origin", 11, 5, _origin),
    ]
    varying = [p for p in spec.space if p.kind != "fixed"]
    for i, p in enumerate(varying):
        # A mutable one may show a schedule ("0.001→0.0005"): room for start and now.
        width = min(max(len(p.name), 13 if p.mutable else 8), 13 if p.mutable else 12)
        cols.append(Column(f"param:{p.name}", p.name, width, 6 + i, _param(p.name), "r"))
    cols += [
        Column("step", "step", 11, 2, _step, "r"),
        Column("latest", "latest", 8, 3, _number("latest"), "r"),
        Column("best", "best", 8, 2, _number("best"), "r"),
        Column("spark", "curve", 12, 4, _spark),
        Column("elapsed", "elapsed", 7, 20, _elapsed, "r"),
        Column("gpu", "gpu:mem", 9, 21, _gpu),
        *([Column("node", "node", 14, 19, _node)] if spec.executor != "local" else []),
        Column("note", "note", 12, 22, _note, grow=True),
    ]
    return cols


def fit_columns(columns: list[Column], width: int, has_notes: bool = False
                ) -> list[tuple[Column, int]]:
    """The columns that fit in `width` (one space between), with their widths.

    The note column shows only when some trial has a note, and then before the
    parameters (a note is what the user wrote to be seen)."""
    if has_notes:
        columns = [dataclasses.replace(c, priority=4.5) if c.key == "note" else c
                   for c in columns]
    else:
        columns = [c for c in columns if c.key != "note"]
    chosen: set[str] = set()
    used = 0
    for col in sorted(columns, key=lambda c: c.priority):
        need = col.width + (1 if chosen else 0)
        if used + need <= width:
            chosen.add(col.key)
            used += need
    out = [(c, c.width) for c in columns if c.key in chosen]
    spare = width - used
    for i, (c, w) in enumerate(out):
        if c.grow and spare > 0:
            out[i] = (c, w + spare)
    return out
