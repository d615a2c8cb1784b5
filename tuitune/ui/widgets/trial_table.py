"""The trial table: sortable, filterable, and cheap to keep live with 1,000 trials.

Only the rows on screen are drawn; a poll that changes three trials repaints
the changed cells of those three rows (see `LineWidget`), never the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping

from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.message import Message

from tuitune.core.trial_state import (
    ACTIVE_STATES,
    FAILED_STATES,
    LIVE_STATES,
    STOPPED_STATES,
    TrialState,
)
from tuitune.core.spec import Spec
from tuitune.system import TrialUsage
from tuitune.ui import palette
from tuitune.ui.records import TrialRow
from tuitune.ui.view_memory import TableState
from tuitune.ui.widgets.columns import (
    Column,
    Ctx,
    abbreviations,
    columns_for,
    decimal_points,
    fit_columns,
)
from tuitune.ui.widgets.lines import Line, LineWidget, Run

#: State filters, cycled with `f`.
STATE_FILTERS: dict[str, Callable[[TrialRow], bool]] = {
    "all": lambda r: True,
    "active": lambda r: r.state in ACTIVE_STATES,
    "running": lambda r: r.state in LIVE_STATES,
    "completed": lambda r: r.state == TrialState.COMPLETED,
    "failed": lambda r: r.state in FAILED_STATES,
    "stopped": lambda r: r.state in STOPPED_STATES,
    "starred": lambda r: r.starred,
}

#: Sort keys, cycled with `o`.
SORTS = ("id", "best", "latest", "step", "state", "elapsed", "origin")


class TrialTable(LineWidget, can_focus=True):
    """Rows of trials with a cursor. Posts `Highlighted` and `Opened`."""

    DEFAULT_CSS = """
    TrialTable { height: 1fr; min-height: 4; }
    TrialTable:focus { background-tint: $foreground 3%; }
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "open", "Open the trial", show=False),
    ]

    class Highlighted(Message):
        """The cursor moved to another trial (or to none)."""

        def __init__(self, trial_id: int | None) -> None:
            super().__init__()
            self.trial_id = trial_id

    class Opened(Message):
        """Enter on a trial."""

        def __init__(self, trial_id: int) -> None:
            super().__init__()
            self.trial_id = trial_id

    class Scrolled(Message):
        """The set of rows on screen changed (their sparklines are needed)."""

        def __init__(self, trial_ids: tuple[int, ...]) -> None:
            super().__init__()
            self.trial_ids = trial_ids

    def __init__(self, spec: Spec, clock: Callable[[], float], id: str | None = None,
                 columns: list[Column] | None = None) -> None:
        """`columns`: what the table may show, in order (default: the spec's)."""
        super().__init__(id=id)
        self._columns: list[Column] = columns if columns is not None else columns_for(spec)
        short = abbreviations(self._columns)
        if short:  # the column titles' full names
            self.tooltip = "Columns: " + ", ".join(f"{k} = {v}" for k, v in short.items())
        self._clock = clock
        self._objective = spec.objective
        self._rows: Mapping[int, TrialRow] = {}
        self._own: Mapping[int, TrialRow] = {}  # the run's trials (set_rows)
        self._imported: Mapping[int, TrialRow] = {}  # a warm start's, shown on request
        self._order: list[int] = []
        self._usage: dict[int, TrialUsage] = {}
        self.state = TableState()
        self._cursor_id: int | None = None
        self._top = 0
        self._shown: tuple[int, ...] = ()
        self._row_cache: dict[int, tuple[TrialRow, tuple, tuple[Run, ...]]] = {}
        self._order_set: set[int] | None = None
        self.marked: frozenset[int] = frozenset()  # for a comparison: `>` before the id

    # -- data in ---------------------------------------------------------------------------
    def set_rows(self, rows: Mapping[int, TrialRow], changed: set[int] | None = None) -> None:
        """The rows (the caller's dict, read only); `changed` ids moved since last time."""
        self._own = rows
        self._rows = {**rows, **self._imported} if self._imported else rows
        if self.state.plain and changed is not None and all(t in self._shown_set for t in changed):
            self.redraw_soon()  # nothing can move: rows by id, all shown
            return
        self._reorder()

    def set_imported(self, rows: Mapping[int, TrialRow]) -> None:
        """Rows of trials imported by a warm start, shown below the run's own (negative
        ids); empty: none shown."""
        self._imported = rows
        self._rows = {**self._own, **rows} if rows else self._own
        self._reorder()

    @property
    def imported_shown(self) -> bool:
        return bool(self._imported)

    @property
    def _shown_set(self) -> set[int]:
        if self._order_set is None or len(self._order_set) != len(self._order):
            self._order_set = set(self._order)
        return self._order_set

    def set_usage(self, usage: Mapping[int, TrialUsage]) -> None:
        self._usage = dict(usage)
        self.redraw_soon()

    def set_marked(self, trial_ids: frozenset[int]) -> None:
        self.marked = trial_ids
        self.redraw_soon()

    def set_state(self, state: TableState) -> None:
        self.state = state
        self._reorder()

    def tick(self) -> None:
        """Redraw for the clock (elapsed times); repaints only cells that changed."""
        self.redraw_soon()

    # -- what the table shows --------------------------------------------------------------
    @property
    def cursor_id(self) -> int | None:
        return self._cursor_id

    @property
    def order(self) -> list[int]:
        return list(self._order)

    @property
    def shown(self) -> tuple[int, ...]:
        """Ids of the rows on screen, top first."""
        return self._shown

    def select(self, trial_id: int) -> None:
        if trial_id in self._order:
            self._move_to(self._order.index(trial_id))

    def _visible_rows(self) -> int:
        return max(1, self.size.height - 1)

    def _reorder(self) -> None:
        st = self.state
        keep = STATE_FILTERS.get(st.state_filter, STATE_FILTERS["all"])
        text = st.text_filter.lower().strip()
        rows = [r for r in self._rows.values() if keep(r) and (not text or text in _haystack(r))]
        rows = self._sorted(rows)
        self._order = [r.id for r in rows]
        self._order_set = None
        if self._cursor_id not in self._rows or self._cursor_id not in self._order:
            index = min(self._index_hint(), len(self._order) - 1)
            self._cursor_id = self._order[index] if self._order else None
            self.post_message(self.Highlighted(self._cursor_id))
        self._scroll_to_cursor()
        self.redraw_soon()

    _last_index = 0

    def _index_hint(self) -> int:
        return max(0, self._last_index)

    def _sorted(self, rows: list[TrialRow]) -> list[TrialRow]:
        """Sort by the chosen key, the run's own trials first and imported ones (negative
        ids) below them, each sorted alike."""
        own = [r for r in rows if r.id > 0]
        if len(own) == len(rows):
            return self._sorted_alike(rows)
        imported = [r for r in rows if r.id < 0]
        return self._sorted_alike(own) + self._sorted_alike(imported)

    def _sorted_alike(self, rows: list[TrialRow]) -> list[TrialRow]:
        """Sort by the chosen key; numbers put missing values last in both directions.
        Ascending 'best'/'latest' means best first (whatever the objective's mode)."""
        key, desc = self.state.sort, self.state.descending
        now = self._clock()
        sign = 1.0 if self._objective.mode == "min" else -1.0
        numeric: dict[str, tuple[Callable[[TrialRow], float | None], float]] = {
            "best": (lambda r: r.best, sign),
            "latest": (lambda r: r.latest, sign),
            "step": (lambda r: r.step, -1.0),
            "elapsed": (lambda r: r.elapsed(now), -1.0),
        }
        if key in numeric:
            get, s = numeric[key]
            s = -s if desc else s

            def num(r: TrialRow) -> tuple:
                v = get(r)
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    return (1, 0.0, r.id)
                return (0, s * v, r.id)
            return sorted(rows, key=num)
        order = {TrialState.RUNNING: 0, TrialState.PAUSED: 1, TrialState.QUEUED: 2}
        plain: dict[str, Callable[[TrialRow], tuple]] = {
            "state": lambda r: (order.get(r.state, 3), r.state, r.id),
            "origin": lambda r: (r.origin_label, r.id),
        }
        # By id: -1, -2, ... for imported rows, as the I list numbers them.
        return sorted(rows, key=plain.get(key, lambda r: (abs(r.id),)), reverse=desc)

    # -- cursor and scrolling ----------------------------------------------------------------
    def _move_to(self, index: int) -> None:
        if not self._order:
            return
        index = max(0, min(index, len(self._order) - 1))
        self._last_index = index
        new = self._order[index]
        if new != self._cursor_id:
            self._cursor_id = new
            self.post_message(self.Highlighted(new))
        self._scroll_to_cursor()
        self.redraw()

    def _cursor_index(self) -> int:
        if self._cursor_id is None or self._cursor_id not in self._order:
            return 0
        return self._order.index(self._cursor_id)

    def _scroll_to_cursor(self) -> None:
        height = self._visible_rows()
        index = self._cursor_index()
        if index < self._top:
            self._top = index
        elif index >= self._top + height:
            self._top = index - height + 1
        self._top = max(0, min(self._top, max(0, len(self._order) - height)))
        shown = tuple(self._order[self._top:self._top + height])
        if shown != self._shown:
            self._shown = shown
            self.post_message(self.Scrolled(shown))

    def action_cursor(self, delta: int) -> None:
        self._move_to(self._cursor_index() + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self._cursor_index() + direction * self._visible_rows())

    def action_jump(self, index: int) -> None:
        self._move_to(len(self._order) - 1 if index < 0 else index)

    def action_open(self) -> None:
        if self._cursor_id is not None:
            self.post_message(self.Opened(self._cursor_id))

    def on_click(self, event: events.Click) -> None:
        y = event.y - 1
        if 0 <= y and self._top + y < len(self._order):
            self._move_to(self._top + y)
            if event.chain == 2:
                self.action_open()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._move_to(self._cursor_index() + 3)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._move_to(self._cursor_index() - 3)

    def on_resize(self) -> None:
        self._scroll_to_cursor()
        super().on_resize()

    # -- drawing -------------------------------------------------------------------------
    def build(self, width: int, height: int) -> list[Line]:
        cols = fit_columns(self._columns, width, any(r.note for r in self._rows.values()))
        cols_key = tuple((c.key, w) for c, w in cols)
        lines: list[Line] = [self._head(cols, width)]
        on_screen = self._order[self._top:self._top + height - 1]
        points = decimal_points((r for t in on_screen if (r := self._rows.get(t)) is not None),
                                cols)
        ctx = Ctx(self._clock(), self._usage, points)
        reading = [i for i, (c, _) in enumerate(cols) if c.reads_more]
        focus = self.has_focus
        for tid in on_screen:
            row = self._rows.get(tid)
            if row is None:
                continue
            # Every input of the row's cells: the row itself (records are replaced, never
            # mutated), the widths, the cursor and what each column reads besides the row.
            # A cell sees nothing else (columns.Cell), so a cached line is never stale.
            seen = [None] * len(cols)
            for i in reading:
                seen[i] = cols[i][0].reads(row, ctx)
            marked = tid in self.marked
            key = (cols_key, tid == self._cursor_id, focus, marked, tuple(seen))
            cached = self._row_cache.get(tid)
            if cached is not None and cached[0] is row and cached[1] == key:
                lines.append(cached[2])
                continue
            runs = _row_runs(row, cols, seen)
            if marked and cols and cols[0][0].key == "id":  # in the star's cell
                runs[0] = (">", palette.ACCENT + palette.BOLD)
            if tid == self._cursor_id:
                cursor = palette.CURSOR if focus else palette.CURSOR_DIM
                runs = [(t, (s + cursor) if s else cursor) for t, s in runs]
            line = tuple(runs)
            self._row_cache[tid] = (row, key, line)
            lines.append(line)
        if not self._order:
            lines.append([(_empty_text(self.state, bool(self._rows)), palette.DIM)])
        return lines

    def _head(self, cols: list[tuple[Column, int]], width: int) -> Line:
        runs: list[Run] = []
        for i, (col, w) in enumerate(cols):
            if i:
                runs.append((" ", None))
            title = col.title
            if col.key == self.state.sort:
                title += "▼" if self.state.descending else "▲"
            text = title[:w].rjust(w) if col.align == "r" else title[:w].ljust(w)
            runs.append((text, palette.HEAD + Style(underline=True)))
        return runs

    def on_focus(self) -> None:
        self.redraw()

    def on_blur(self) -> None:
        self.redraw()


def _row_runs(row: TrialRow, cols: list[tuple[Column, int]], seen: list[Hashable]
              ) -> list[Run]:
    runs: list[Run] = []
    for i, (col, w) in enumerate(cols):
        if i:
            runs.append((" ", None))
        runs.extend(col.cell(row, w, seen[i]))
    return runs


def _haystack(row: TrialRow) -> str:
    params = " ".join(f"{k}={v}" for k, v in row.current.items())
    return f"#{row.id} {row.id} {row.state} {row.origin_label} {params} {row.note}".lower()


def _empty_text(state: TableState, any_rows: bool) -> str:
    if not any_rows:
        return " no trials yet: press n to start one, or h to hand off to automatic search"
    return (f" no trial matches (state: {state.state_filter}"
            + (f", text: {state.text_filter!r}" if state.text_filter else "")
            + "); f changes the state filter, / the text filter")
