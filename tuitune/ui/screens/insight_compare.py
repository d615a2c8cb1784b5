"""Compare 2-4 trials (marked with space on the run screen, then C; or c on the
insight screen: the best ones): their parameters side by side with the differences
highlighted, their objective curves on one axis with a cursor that reads out each
one's value at a step, and the steps where each was tweaked (t) or cloned (c)."""

from __future__ import annotations

from dataclasses import replace
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from tuitune.ui import fmt, palette
from tuitune.ui.context import OnRun, watch_frames
from tuitune.ui.screens.charting import build_chart, markers_for, move_cursor
from tuitune.ui.widgets.chart import Chart, cursor_steps

DIFFERS = palette.WARN + palette.BOLD


class CompareScreen(OnRun, Screen):
    """Trials side by side."""

    HELP_TITLE = "Compare (C on the run screen, c on the insight screen)"

    DEFAULT_CSS = """
    CompareScreen #compare-title { height: 1; background: $panel; }
    CompareScreen #compare-params { height: auto; max-height: 50%; }
    CompareScreen #compare-chart { height: 1fr; }
    """

    BINDINGS = [
        Binding("l", "toggle_log", "Log scale", show=False, tooltip="Curves: log y axis"),
        Binding("left", "cursor(-1)", "Cursor left", show=False,
                tooltip="Move the cursor one step back: each trial's value there below"),
        Binding("right", "cursor(1)", "Cursor right", show=False,
                tooltip="Move the cursor one step on"),
        Binding("b,q,escape", "back", "Back", tooltip="Back to the insight screen"),
        Binding("question_mark,f1", "app.help", "Help"),
    ]

    def __init__(self, trial_ids: list[int]) -> None:
        super().__init__()
        # Imported trials (negative ids, from --warm-start) have no rows or curves here.
        self.trial_ids = [t for t in trial_ids if t > 0][:4]
        self.log_y = False
        self.cursor: float | None = None  # a step, once an arrow sets it

    def compose(self) -> ComposeResult:
        yield Static(id="compare-title")
        yield Static(id="compare-params")
        yield Chart(id="compare-chart")
        yield Footer(compact=True)

    @property
    def metric(self) -> str:
        return self.run.spec.objective.metric

    def on_mount(self) -> None:
        self.want_curves({(t, self.metric) for t in self.trial_ids})
        watch_frames(self, lambda frame: frame.polled and self.refresh_from_view(
            set(frame.rows), frame.full))
        self.refresh_from_view(set(), full=True)

    def on_unmount(self) -> None:
        self.drop_curves()

    def refresh_from_view(self, changed: set[int], full: bool = False) -> None:
        if not self.is_mounted:
            return
        ids = ", ".join(f"#{t}" for t in self.trial_ids)
        self.query_one("#compare-title", Static).update(f" Compare {ids}")
        self.query_one("#compare-params", Static).update(self.params_table())
        view = self.run.view
        data = build_chart(view, self.metric, self.trial_ids, self.log_y, False, None)
        markers = []
        for i, tid in enumerate(self.trial_ids):  # every trial's tweaks and clone, not one
            row = view.rows.get(tid)
            if row is not None:
                markers += markers_for(view, row, palette.SERIES[i % len(palette.SERIES)])
        self.query_one(Chart).show(replace(data, markers=tuple(markers), cursor=self.cursor))

    def action_cursor(self, by: int) -> None:
        self.cursor = move_cursor(cursor_steps(self.query_one(Chart).data), self.cursor, by)
        self.refresh_from_view(set())

    def on_chart_clicked(self, message: Chart.Clicked) -> None:
        self.cursor = message.step
        self.refresh_from_view(set())

    def params_table(self) -> Table:
        rows = [self.run.view.rows.get(t) for t in self.trial_ids]
        present = [r for r in rows if r is not None]
        table = Table(box=None, pad_edge=False, expand=False)
        table.add_column("")
        for i, r in enumerate(present):
            table.add_column(Text(f"#{r.id}", palette.SERIES[i % len(palette.SERIES)]))
        names = list(dict.fromkeys(n for r in present for n in r.current))
        for name in names:
            values = [fmt.value(r.current.get(name)) for r in present]
            style = DIFFERS if len(set(values)) > 1 else None
            table.add_row(name, *(Text(v, style) for v in values))
        table.add_row(Text(f"best {self.metric}", palette.BOLD),
                      *(Text(fmt.value(r.best), palette.BOLD) for r in present))
        table.add_row("state", *(Text(r.state, palette.state_style(r.state)) for r in present))
        table.add_row("origin", *(r.origin for r in present))
        table.add_row("tweaks", *(", ".join(f"{c.name}={fmt.value(c.value)}@{c.step}"
                                            for c in r.changes if c.step is not None) or "-"
                                  for r in present))
        table.add_row("cloned", *(f"from #{r.parent_id}" + (
            f" at step {r.clone_step}" if r.clone_step is not None else "")
            if r.parent_id else "-" for r in present))
        return table

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y
        self.refresh_from_view(set(), full=True)

    def action_back(self) -> None:
        self.app.pop_screen()
