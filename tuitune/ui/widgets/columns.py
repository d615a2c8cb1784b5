"""Columns of the trial table: what each shows, how wide, how important. No Textual.

At a given width the table keeps the most important columns that fit (the
detail screen shows everything a narrow table leaves out). The priority rule
lives here only (`PRIORITY`): at 80 columns every searched parameter shows, with
a short name where its name is long (`short_names`), before the curve, the
origin, elapsed time or a note.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field

from rich.style import Style

from tuitune.core.history import ACTIVE_STATES, LIVE_STATES
from tuitune.core.numfmt import column_number, digits_after_point, scientific
from tuitune.core.numfmt import nice_number as numfmt_number
from tuitune.core.space import Param
from tuitune.core.spec import Spec
from tuitune.system import TrialUsage
from tuitune.ui import fmt, palette
from tuitune.ui.records import TrialRow
from tuitune.ui.series import bar, nice_number, sparkline
from tuitune.ui.widgets.lines import Run


@dataclass(frozen=True)
class Ctx:
    """What changes besides the rows: the clock, the sampled trial processes, and
    per column of measured values the digits after the point its cells on screen line
    up to (`points`)."""

    now: float
    usage: Mapping[int, TrialUsage]
    points: Mapping[str, int] = field(default_factory=dict)


#: What a cell reads besides its row (a hashable value; None: nothing).
Reads = Callable[[TrialRow, Ctx], Hashable]
#: Draws a cell from its row, its width and what its column's `reads` returned: a cell
#: sees nothing else, so the table's row cache, keyed on the same, knows every input.
Cell = Callable[[TrialRow, int, Hashable], list[Run]]


def _row_only(row: TrialRow, ctx: Ctx) -> None:
    return None


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int
    priority: float  # lower is kept first
    cell: Cell
    align: str = "l"
    grow: bool = False  # takes the width left over
    wants: int = 0  # cells more it uses well when the line has room to spare
    reads: Reads = _row_only

    @property
    def reads_more(self) -> bool:
        """Whether the cell shows anything besides its row (the clock, usage)."""
        return self.reads is not _row_only


def _text(text: str, width: int, style: Style | None = None, align: str = "l") -> list[Run]:
    return [(fmt.fit(fmt.ascii_safe(text), width, align), style)]


def _id(row: TrialRow, w: int, seen: Hashable) -> list[Run]:
    mark: list[Run] = [("*", palette.STAR)] if row.starred else [(" ", None)]
    prot = "!" if row.protected else " "
    return mark + _text(str(row.id), w - 2, palette.BOLD, "r") + [(prot, palette.WARN)]


def _state(row: TrialRow, w: int, seen: Hashable) -> list[Run]:
    return _text(row.state, w, palette.state_style(row.state))


def _origin(row: TrialRow, w: int, seen: Hashable) -> list[Run]:
    return _text(row.origin_label, w, palette.DIM if row.origin == "manual" else None)


def _step(max_steps: int | None) -> Cell:
    def cell(row: TrialRow, w: int, seen: Hashable) -> list[Run]:
        bar_w = 5
        text_w = w - bar_w - 1
        if row.step is None:
            return _text("-", text_w, palette.DIM, "r") + [(" " * (bar_w + 1), None)]
        if max_steps:
            return _text(str(row.step), text_w, None, "r") + [
                (" ", None), (bar(row.step / max_steps, bar_w), palette.BAR)]
        return _text(str(row.step), w, None, "r")
    return cell


#: Columns of measured values: 4 digits with trailing zeros, decimal points lined up
#: over the rows on screen (`decimal_points`).
MEASURED = ("latest", "best")


def _measured_text(row: TrialRow, attr: str, w: int) -> str | None:
    v = getattr(row, attr)
    return column_number(v, width=w) if v is not None and math.isfinite(v) else None


def decimal_points(rows: Iterable[TrialRow], cols: list[tuple[Column, int]]) -> dict[str, int]:
    """Per measured column shown, the most digits after the point among `rows`' cells
    (the rows on screen): each cell is padded on the right to it, so that, right-aligned,
    the points stand in one column (`0.5184 ` over `0.09226`), as the CLI's tables do."""
    widths = {c.key: w for c, w in cols if c.key in MEASURED}
    out: dict[str, int] = {}
    for row in rows:
        for key, w in widths.items():
            text = _measured_text(row, key, w)
            digits = digits_after_point(text) if text is not None else None
            if digits is not None and digits > out.get(key, 0):
                out[key] = digits
    return out


def _points_reads(attr: str) -> Reads:
    def reads(row: TrialRow, ctx: Ctx) -> int | None:
        return ctx.points.get(attr)
    return reads


def _number(attr: str) -> Cell:
    def cell(row: TrialRow, w: int, seen: Hashable) -> list[Run]:
        v = getattr(row, attr)
        if v is None:
            return _text("-", w, palette.DIM, "r")
        if not math.isfinite(v):
            return _text("nan" if math.isnan(v) else nice_number(v), w, palette.BAD, "r")
        text = column_number(v, width=w)
        digits = digits_after_point(text)
        if isinstance(seen, int) and digits is not None and len(text) + seen - digits <= w:
            text += " " * (seen - digits)  # its point under the others' (decimal_points)
        return _text(text, w, palette.GOOD if attr == "best" else None, "r")
    return cell


def _spark(row: TrialRow, w: int, seen: Hashable) -> list[Run]:
    if not row.spark:
        return [(" " * w, None)]
    return [(sparkline(row.spark, w), palette.SPARK)]


def _elapsed_reads(row: TrialRow, ctx: Ctx) -> str:
    return fmt.duration(row.elapsed(ctx.now))  # as shown: redrawn when the text changes


def _elapsed(row: TrialRow, w: int, seen: Hashable) -> list[Run]:
    style = None if row.state in LIVE_STATES else palette.DIM
    return _text(str(seen), w, style, "r")


def _gpu_reads(row: TrialRow, ctx: Ctx) -> tuple[tuple[int, ...], float | None] | None:
    """The trial's GPUs and GPU memory as sampled (None: not sampled, or on no GPU)."""
    use = ctx.usage.get(row.id)
    return (use.gpu_ids, use.gpu_mem_mb) if use is not None and use.gpu_ids else None


def _gpu(row: TrialRow, w: int, seen: Hashable) -> list[Run]:
    sampled = seen if isinstance(seen, tuple) else None
    ids = ",".join(map(str, sampled[0])) if sampled else (row.gpus or "")
    mem = sampled[1] if sampled else None
    if mem is None and row.state not in ACTIVE_STATES:
        mem = row.peak_gpu_mem_mb
    if not ids:
        return _text("-", w, palette.DIM)
    return _text(f"{ids}:{fmt.mb(mem)}" if mem is not None else ids, w)


def _node(row: TrialRow, w: int, seen: Hashable) -> list[Run]:
    return _text(row.node or "-", w, None if row.node else palette.DIM)


def _mark(row: TrialRow, w: int, seen: Hashable) -> list[Run]:
    """◆ on the Pareto front of the feasible trials, × infeasible (several objectives
    or constraints; the detail screen and `tuitune best` say more)."""
    if row.mark == "front":
        return _text("◆", w, palette.STAR)
    if row.mark.startswith("infeasible"):
        return _text("×", w, palette.WARN)
    return _text("", w)


def _note(row: TrialRow, w: int, seen: Hashable) -> list[Run]:
    return _text(row.note.replace("\n", " "), w, palette.WARN)


def _short_value(v: object, w: int) -> str:
    """4 significant digits, or 3 where 4 do not fit the cell, with an exponent if
    that is narrower ('0.000179' is 8 cells, '1.79e-4' 7): never a cropped number."""
    text = fmt.value(v)
    if len(text) > w and isinstance(v, float) and math.isfinite(v):
        text = numfmt_number(v, 3)
        if len(text) > w:
            text = scientific(v, 3)
    return text


#: What a parameter's cell shows for a trial that does not have it (a conditional
#: parameter whose condition fails).
INACTIVE = "·"


def _param(name: str) -> Cell:
    def cell(row: TrialRow, w: int, seen: Hashable) -> list[Run]:
        if name not in row.current:  # inactive: its condition does not hold (spec.md)
            return _text(INACTIVE, w, palette.DIM, "r")
        v = row.current.get(name)
        if not any(c.name == name and c.step is not None for c in row.changes):
            return _text(_short_value(v, w), w, None, "r")
        # Tweaked: it ran a schedule. What it started with, if the cell has room; the
        # arrow always (the detail screen has every change with its step).
        now = fmt.value(v)
        ran = f"{fmt.value(row.params.get(name))}→{now}"
        return _text(ran if len(ran) <= w else f"→{_short_value(v, w - 1)}", w,
                     palette.ACCENT, "r")
    return cell


#: Names up to this long are shown whole in a column title.
SHORT_NAME = 8


def short_names(names: list[str]) -> dict[str, str]:
    """Column titles for parameter names, one rule for all: a name of up to 8
    characters as is; a longer one of several words by its initials, as ML people
    write them (learning_rate: lr, batch_size: bs, weight_decay: wd); one long word
    cut to 7 characters and a dot. A clash gets a digit. The full names are in the
    table's tooltip and on the detail screen."""
    out: dict[str, str] = {}
    taken = {n for n in names if len(n) <= SHORT_NAME}
    for name in names:
        if len(name) <= SHORT_NAME:
            out[name] = name
            continue
        words = [w for w in name.replace("-", "_").split("_") if w]
        short = "".join(w[0] for w in words) if len(words) > 1 else name[:SHORT_NAME - 1] + "."
        candidate, n = short, 2
        while candidate in taken:
            candidate, n = f"{short}{n}", n + 1
        taken.add(candidate)
        out[name] = candidate
    return out


def value_width(p: Param) -> int:
    """Cells a value of `p` needs: floats at 3-4 significant digits ('0.01234',
    '1.23e-5'), integers whole, choices whole up to 10 characters."""
    if p.kind in ("int", "pow2"):
        return max(len(str(getattr(p, "low", 0))), len(str(getattr(p, "high", 0))))
    choices = getattr(p, "choices", None)
    if choices:
        return min(10, max(len(fmt.value(c)) for c in choices))
    return 8 if getattr(p, "low", 0) < 0 else 7


#: Which columns a narrow table keeps first (lower first). Parameters come right
#: after id, state and best: without them trials cannot be told apart, and the detail
#: screen is one key away for the rest. Then step (progress), and a note (the user
#: wrote it to be seen) before latest, the curve and the origin, which the chart and
#: the detail screen show too: at 80 columns with four parameters a note costs the
#: latest value, never a parameter. Elapsed, node and gpu:mem are last.
PRIORITY = {"id": 0, "state": 1, "best": 2, "param": 3, "step": 4, "note": 4.5, "latest": 5, "spark": 6, "origin": 7, "node": 19, "elapsed": 20, "gpu": 21}


def columns_for(spec: Spec) -> list[Column]:
    """All columns, in display order, for a run's spec."""
    pr = PRIORITY
    cols = [
        Column("id", "id", 6, pr["id"], _id, "r"),
        Column("state", "state", 9, pr["state"], _state),
        Column("origin", "origin", 11, pr["origin"], _origin),
    ]
    varying = [p for p in spec.space if p.kind != "fixed"]
    titles = short_names([p.name for p in varying])
    for i, p in enumerate(varying):
        # A mutable one may show a tweak as "→0.0005" (one more cell for the arrow),
        # and where the line has room the schedule, "0.001→0.0005".
        width = max(len(titles[p.name]), value_width(p) + (1 if p.mutable else 0))
        cols.append(Column(f"param:{p.name}", titles[p.name], width,
                           pr["param"] + i / 100, _param(p.name), "r",
                           wants=max(0, 13 - width) if p.mutable else 0))
    cols += [
        Column("step", "step", 11, pr["step"], _step(spec.budget.max_steps), "r"),
        Column("latest", "latest", 8, pr["latest"], _number("latest"), "r",
               reads=_points_reads("latest")),
        Column("best", "best", 8, pr["best"], _number("best"), "r",
               reads=_points_reads("best")),
        *([Column("mark", "◆", 1, pr["best"] + 0.001, _mark)]
          if len(spec.all_objectives) > 1 or spec.constraints else []),
        Column("spark", "curve", 12, pr["spark"], _spark),
        Column("elapsed", "elapsed", 7, pr["elapsed"], _elapsed, "r", reads=_elapsed_reads),
        Column("gpu", "gpu:mem", 9, pr["gpu"], _gpu, reads=_gpu_reads),
        *([Column("node", "node", 14, pr["node"], _node)] if spec.executor != "local" else []),
        Column("note", "note", 12, pr["note"], _note, grow=True),
    ]
    return cols


def abbreviations(columns: list[Column]) -> dict[str, str]:
    """Short title -> full parameter name, for the titles that differ."""
    return {c.title: c.key.removeprefix("param:") for c in columns
            if c.key.startswith("param:") and c.title != c.key.removeprefix("param:")}


def fit_columns(columns: list[Column], width: int, has_notes: bool = False
                ) -> list[tuple[Column, int]]:
    """The columns that fit in `width` (one space between), with their widths.

    The note column shows only when some trial has a note, at its place in
    `PRIORITY`: after the parameters, so a note never pushes one out."""
    if not has_notes:
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
        if c.wants and spare > 0:
            extra = min(c.wants, spare)
            out[i], spare = (c, w + extra), spare - extra
    for i, (c, w) in enumerate(out):
        if c.grow and spare > 0:
            out[i] = (c, w + spare)
    return out
