"""The main screen: header, trial table, chart and system panel, status bar.

Wide terminals show the chart and the system panel side by side under the
table; below 120x36 they share one pane (v switches), and z gives the table
the whole screen. Nothing is cut off without a way to see it: narrow tables
drop columns the detail screen shows, and the GPU screen (g) shows every GPU.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from tuitune.ui.context import Frame, watch_frames
from tuitune.ui.records import TrialRow, imported_rows
from tuitune.ui.screens.charting import VAL_PREFIXES, build_chart, chart_trials, move_cursor
from tuitune.ui.screens.dialogs import PickDialog
from tuitune.ui.screens.gpu_screen import GpuScreen
from tuitune.ui.screens.hand_actions import HAND_BINDINGS, HandActions
from tuitune.ui.system_feed import SystemView
from tuitune.ui.view_memory import TableState, ViewSettings
from tuitune.ui.widgets.chart import Chart, ChartData, cursor_steps
from tuitune.ui.widgets.header import RunHeaderBar
from tuitune.ui.widgets.system_panel import SystemPanel
from tuitune.ui.widgets.trial_table import SORTS, STATE_FILTERS, TrialTable

def secondary_metric(metric: str, names: Sequence[str]) -> str | None:
    """The second chart's metric by default: another validation metric (val_loss beside
    val_accuracy), else the metric's training twin (loss beside val_loss)."""
    others = [n for n in names if n != metric]
    base = metric.split("_", 1)[1] if metric.startswith(VAL_PREFIXES) else None
    return (next((n for n in others if n.startswith(VAL_PREFIXES)), None)
            or next((n for n in others if base and n in (base, f"train_{base}")), None))


#: Most trials compared at once (their columns fit 80 columns).
MAX_COMPARED = 4
#: Least seconds between chart redraws caused by new points only.
CHART_EVERY_S = 2.0
COMPACT_WIDTH = 120
COMPACT_HEIGHT = 36


class RunScreen(HandActions, Screen):
    """The experiment at a glance."""

    HELP_TITLE = "Trials"

    BINDINGS = [
        *HAND_BINDINGS,
        Binding("space", "mark", "Mark", show=False,
                tooltip="Mark the trial for a comparison (2 to 4; again: unmark)"),
        Binding("C", "compare", "Compare", show=False,
                tooltip="Compare the marked trials: parameters, curves, tweaks and clones"),
        Binding("g", "gpu_screen", "GPUs",
                tooltip="GPU screen: every GPU, its processes and trees, orphans"),
        Binding("i", "insight", "Insight", show=False,
                tooltip="Which parameters matter, the model's view, what to try next"),
        Binding("I", "imported", "Imported trials", show=False,
                tooltip="The trials a warm start imported from earlier runs, and those refused"),
        Binding("slash", "filter_text", "Filter", show=False,
                tooltip="Filter trials by text (id, state, origin, name=value, note)"),
        Binding("f", "cycle_state_filter", "State filter", show=False,
                tooltip="Show all / active / running / completed / failed / stopped / starred"),
        Binding("o", "cycle_sort", "Sort", show=False,
                tooltip="Sort by the next column: id, best, latest, step, state, elapsed, origin"),
        Binding("O", "reverse_sort", "Reverse sort", show=False, tooltip="Reverse the sort"),
        Binding("m", "pick_metric", "Chart metric", show=False,
                tooltip="Choose the metric the chart shows"),
        Binding("M", "pick_metric2", "Second chart metric", show=False,
                tooltip="Big terminals: the metric of the second chart, under the first "
                        "(or none)"),
        Binding("left", "chart_cursor(-1)", "Chart cursor left", show=False,
                tooltip="Chart: move the cursor one step back (each curve's value below)"),
        Binding("right", "chart_cursor(1)", "Chart cursor right", show=False,
                tooltip="Chart: move the cursor one step on"),
        Binding("l", "toggle_log", "Log scale", show=False, tooltip="Chart: log y axis"),
        Binding("w", "toggle_smooth", "Smoothing", show=False,
                tooltip="Chart: smoothing (TensorBoard's moving average)"),
        Binding("v", "switch_pane", "Chart/GPU pane", show=False,
                tooltip="Small terminals: show the chart or the GPU panel under the table"),
        Binding("z", "zoom_table", "Table only", show=False,
                tooltip="Give the table the whole screen (again: back)"),
        Binding("escape", "close_filter", "Close the filter box, or clear the filter",
                show=False),
        Binding("question_mark,f1", "app.help", "Help", tooltip="This list of keys"),
        Binding("q", "app.detach", "Detach",
                tooltip="Detach: quit the TUI, trials keep running (tuitune attach reopens)"),
    ]

    class SettingsChanged(Message):
        """The user changed the sort, a filter or the chart: the app keeps them for the
        next attach."""

        def __init__(self, settings: ViewSettings) -> None:
            super().__init__()
            self.settings = settings

    def __init__(self, kept: ViewSettings | None = None) -> None:
        """`kept`: the settings this run's screen was left with (view_memory.py)."""
        super().__init__()
        self._kept = kept or ViewSettings()
        self.metric: str | None = None
        self.marked: list[int] = []  # for a comparison, in the order marked
        self.metric2: str | None = None  # the second pane's: None chosen for you, "" none
        self.log_y = False
        self.smooth = False
        self.pane = "chart"
        self.cursor: float | None = None  # a step read out under the charts (← →, a click)
        self._chart_signature: tuple = ()
        self._chart_drawn = 0.0
        self._chart_complete = False

    def compose(self) -> ComposeResult:
        yield RunHeaderBar(self.run.clock, id="header")
        # One line, shown only while rows are filtered or sorted: hidden rows must show.
        yield Static("", id="table-state", markup=False)
        yield TrialTable(self.run.spec, self.run.clock, id="table")
        with Horizontal(id="lower"):
            with Vertical(id="charts"):  # the second only where there is room
                yield Chart(id="chart")
                yield Chart(id="chart2")
            yield SystemPanel(id="system")
        yield Input(placeholder="filter trials: id, state, origin, name=value, note "
                    "(enter keeps it, empty clears)", id="filter")
        yield Footer(compact=True, show_command_palette=False)

    @property
    def table(self) -> TrialTable:
        return self.query_one(TrialTable)

    _ready = False

    def on_mount(self) -> None:
        self._ready = True
        kept = self._kept
        self.metric = kept.metric or self.run.spec.objective.metric
        self.log_y, self.smooth = kept.log_y, kept.smooth
        self.metric2 = kept.metric2
        if kept.table != self.table.state:
            self.table.set_state(kept.table)
        self.table.focus()
        self._layout()
        watch_frames(self, self._draw)
        self.refresh_from_view(set(), full=True)
        if self.run.view.system is not None:  # a sample that came before this screen
            self.refresh_system(self.run.view.system)

    def on_resize(self) -> None:
        self._layout()

    def _layout(self) -> None:
        width, height = self.app.size
        compact = width < COMPACT_WIDTH or height < COMPACT_HEIGHT
        self.set_class(compact, "compact")
        self.set_class(self.pane == "system", "pane-system")

    # -- data from the app -------------------------------------------------------------------
    def _draw(self, frame: Frame) -> None:
        """What the app's frame says changed (context.Frame)."""
        if frame.polled:
            self.refresh_from_view(set(frame.rows), frame.full)
        if frame.system is not None:
            self.refresh_system(frame.system)
        if frame.second:
            self.tick()

    def refresh_from_view(self, changed: set[int], full: bool = False) -> None:
        if not self._ready:
            return
        view = self.run.view
        self.query_one(RunHeaderBar).show(view.header)
        if full or changed:
            self.table.set_rows(view.rows, changed)
            self._show_table_state()
        self._update_chart()

    def refresh_system(self, view: SystemView) -> None:
        if not self._ready:
            return
        self.query_one(SystemPanel).show(view, self.run.view.nodes)
        self.table.set_usage(view.snapshot.trials)

    def tick(self) -> None:
        if not self._ready:
            return
        self.query_one(RunHeaderBar).redraw_soon()
        self.table.tick()

    def selected_row(self) -> TrialRow | None:
        tid = self.table.cursor_id
        return self.run.view.rows.get(tid) if tid is not None else None

    def wanted_curves(self) -> set[tuple[int, str]]:
        if self.metric is None:
            return set()
        ids = chart_trials(self.table.cursor_id, self.run.view.starred)
        return {(tid, m) for tid in ids if tid >= 0 for m in self._metrics()}

    def _chart_key(self) -> tuple[list[int], tuple]:
        """The chart's trials, and what its drawing depends on. Curves and rows are
        replaced, never mutated, so their identity says whether they changed."""
        view = self.run.view
        ids = chart_trials(self.table.cursor_id, view.starred)
        metrics = self._metrics()
        setting = (metrics, self.log_y, self.smooth, tuple(ids), view.loaded, self.cursor)
        data_key = (tuple(id(view.curves.get((t, m))) for t in ids for m in metrics),
                    tuple(id(view.rows.get(t)) for t in ids))
        return ids, (setting, data_key)

    def chart_is_current(self) -> bool:
        """True when the chart shows the data the view holds now (its redraw for new
        points is throttled; tests wait for this before a snapshot)."""
        return self.metric is None or self._chart_key()[1] == self._chart_signature

    def _update_chart(self) -> None:
        if self.metric is None:
            return
        view = self.run.view
        ids, (setting, data_key) = self._chart_key()
        metrics = setting[0]
        self.set_class(len(metrics) > 1, "two-charts")
        self.want_curves({(tid, m) for tid in ids for m in metrics})
        # Drawn again only when a curve, a marker or a setting changed.
        if (setting, data_key) == self._chart_signature:
            return
        # New points alone redraw it at most every CHART_EVERY_S (the table shows each
        # value at once; the next poll retries); a new selection or setting redraws now.
        now = time.monotonic()
        same_setting = bool(self._chart_signature) and self._chart_signature[0] == setting
        if same_setting and self._chart_complete and now - self._chart_drawn < CHART_EVERY_S:
            return
        self._chart_signature = (setting, data_key)
        self._chart_drawn = now
        self._chart_complete = all((t, m) in view.curves for t in ids for m in metrics)
        for chart_id, metric in zip(("#chart", "#chart2"), metrics, strict=False):
            self.query_one(chart_id, Chart).show(self._chart_data(metric, ids))

    def _chart_data(self, metric: str, ids: list[int]) -> ChartData:
        return replace(build_chart(self.run.view, metric, ids, self.log_y, self.smooth, None,
                                   self.run.reference), cursor=self.cursor)

    def action_chart_cursor(self, by: int) -> None:
        """The charts' cursor `by` points along the first chart's curves (the first
        press: the newest step); each curve's exact value there is read out under it."""
        if self.metric is None:
            return
        ids = chart_trials(self.table.cursor_id, self.run.view.starred)
        self.cursor = move_cursor(cursor_steps(self._chart_data(self.metric, ids)),
                                  self.cursor, by)
        self._update_chart()

    def on_chart_clicked(self, message: Chart.Clicked) -> None:
        self.cursor = message.step
        self._update_chart()

    def _metrics(self) -> tuple[str, ...]:
        """The charted metrics: the chosen one, and a second where there is room (a
        wide, tall terminal: the panes are stacked under the table)."""
        if self.metric is None:
            return ()
        width, height = self.app.size
        if width < COMPACT_WIDTH or height < COMPACT_HEIGHT:
            return (self.metric,)
        second = (self.metric2 if self.metric2 is not None else
                  secondary_metric(self.metric, self.run.view.metric_names))
        return (self.metric, second) if second and second != self.metric else (self.metric,)

    # -- table events ----------------------------------------------------------------------
    def on_trial_table_highlighted(self, event: TrialTable.Highlighted) -> None:
        self._update_chart()

    def on_trial_table_opened(self, event: TrialTable.Opened) -> None:
        # Imported on first use: the detail screen is not needed to open a run (50 ms).
        from tuitune.ui.screens.detail import DetailScreen

        if event.trial_id < 0:  # a warm start's: its parameters and value are the row
            self.app.notify(f"trial {event.trial_id} was imported by a warm start; it is "
                            "not a trial of this run (I lists them)", severity="warning")
            return
        self.app.push_screen(DetailScreen(event.trial_id))

    # -- view actions ----------------------------------------------------------------------
    def action_gpu_screen(self) -> None:
        self.app.push_screen(GpuScreen(standalone=False))

    def action_insight(self) -> None:
        from tuitune.ui.screens.insight import InsightScreen  # loaded when first opened

        self.app.push_screen(InsightScreen())

    def action_imported(self) -> None:
        from tuitune.engine.warm_start import META_KEY, imported_table
        from tuitune.ui.screens.imported import ImportedScreen

        record = self.app.run_meta([META_KEY]).get(META_KEY)
        rows = imported_rows(record)

        def toggle(in_table: bool | None) -> None:
            if in_table:
                self.table.set_imported({} if self.table.imported_shown else rows)

        self.app.push_screen(ImportedScreen(imported_table(record), self.table.imported_shown,
                                            bool(rows)), toggle)

    def action_filter_text(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = self.table.state.text_filter
        box.add_class("shown")
        box.focus()

    def action_close_filter(self) -> None:
        """Esc: closes the filter box; in the table, clears the filter (the sort stays)."""
        box = self.query_one("#filter", Input)
        if box.has_class("shown"):
            box.remove_class("shown")
            self.table.focus()
            self._remember()  # the filter typed so far stays, so it is kept
        elif self.table.state.filtered:
            self._set_state(state_filter="all", text_filter="")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "filter":
            return
        self._set_state(text_filter=event.value.strip())
        event.input.remove_class("shown")
        self.table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        # The rows follow each key; the view is kept (a file write) only once the
        # box closes, not once per key typed.
        if event.input.id == "filter":
            self._set_state(remember=False, text_filter=event.value.strip())

    def _set_state(self, remember: bool = True, **changes) -> None:
        st = self.table.state
        self.table.set_state(TableState(**{**st.__dict__, **changes}))
        self._show_table_state()
        if remember:
            self._remember()

    def settings(self) -> ViewSettings:
        return ViewSettings(self.table.state, self.metric, self.log_y, self.smooth,
                            self.metric2)

    def _remember(self) -> None:
        """Tell the app when the settings differ from those it keeps."""
        now = self.settings()
        if now != self._kept:
            self._kept = now
            self.post_message(self.SettingsChanged(now))

    def _show_table_state(self) -> None:
        """The filter, the sort and how many rows show, while not all rows by id; the
        trials marked for a comparison."""
        st = self.table.state
        line = self.query_one("#table-state", Static)
        parts = []
        if not st.plain:
            hint = "   (esc clears the filter)" if st.filtered else ""
            parts.append(st.describe(len(self.table.order), len(self.run.view.rows)) + hint)
        if self.marked:
            parts.append("marked " + " ".join(f"#{t}" for t in self.marked)
                         + (" · C compares" if len(self.marked) > 1 else " · mark another"))
        line.set_class(bool(parts), "shown")
        if parts:
            line.update(" " + " · ".join(parts))

    def _need_row(self, verb: str) -> TrialRow | None:
        tid = self.table.cursor_id
        if tid is not None and tid < 0:  # a warm start's row (I, then t)
            self.app.notify(f"cannot {verb} trial {tid}: a warm start imported it from an "
                            "earlier run; it is not a trial of this run", severity="warning")
            return None
        return super()._need_row(verb)

    def action_mark(self) -> None:
        """Space: mark the trial for a comparison (or unmark it); up to four."""
        tid = self.table.cursor_id
        if tid is None or self._need_row("mark") is None:
            return
        if tid in self.marked:
            self.marked.remove(tid)
        elif len(self.marked) >= MAX_COMPARED:
            self.app.notify(f"{MAX_COMPARED} trials are marked already: unmark one "
                            "(space) first", severity="warning")
            return
        else:
            self.marked.append(tid)
        self.table.set_marked(frozenset(self.marked))
        self._show_table_state()

    def action_compare(self) -> None:
        """C: the marked trials side by side."""
        marked = [t for t in self.marked if t in self.run.view.rows]
        if len(marked) < 2:
            self.app.notify("mark 2 to 4 trials with space, then C compares them",
                            severity="warning")
            return
        from tuitune.ui.screens.insight_compare import CompareScreen  # loaded when used

        self.app.push_screen(CompareScreen(marked))

    def action_cycle_state_filter(self) -> None:
        names = list(STATE_FILTERS)
        current = names.index(self.table.state.state_filter)
        self._set_state(state_filter=names[(current + 1) % len(names)])

    def action_cycle_sort(self) -> None:
        current = SORTS.index(self.table.state.sort)
        self._set_state(sort=SORTS[(current + 1) % len(SORTS)], descending=False)

    def action_reverse_sort(self) -> None:
        self._set_state(descending=not self.table.state.descending)

    def action_pick_metric(self) -> None:
        names = list(self.run.view.metric_names) or [self.run.spec.objective.metric]

        def picked(name: str | None) -> None:
            if name:
                self.metric = name
                self._update_chart()
                self._remember()
        self.app.push_screen(PickDialog("Chart which metric?", names, self.metric), picked)

    def action_pick_metric2(self) -> None:
        none = "(none)"
        names = [none, *(n for n in self.run.view.metric_names if n != self.metric)]
        current = self._metrics()[1:] or (none,)

        def picked(name: str | None) -> None:
            if name:
                self.metric2 = "" if name == none else name
                self._update_chart()
                self._remember()
        self.app.push_screen(PickDialog("Second chart: which metric?", names, current[0]),
                             picked)

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y
        self._update_chart()
        self._remember()

    def action_toggle_smooth(self) -> None:
        self.smooth = not self.smooth
        self._update_chart()
        self._remember()

    def action_switch_pane(self) -> None:
        self.pane = "system" if self.pane == "chart" else "chart"
        self.remove_class("zoom")
        self._layout()

    def action_zoom_table(self) -> None:
        self.toggle_class("zoom")
