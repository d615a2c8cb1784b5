"""One trial in full: parameters and their changes, train and validation curves
on one axis with a legend (side by side on `v`), an overfitting badge, a cursor
that reads out the values at a step, the log tail (following), its events and
its lineage. The hand actions work here too, on this trial.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Log, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from tuitune.core.history import param_values
from tuitune.core.textsafe import log_line
from tuitune.engine.logs import log_tail
from tuitune.engine.runs import trial_dir
from tuitune.ui import fmt, palette
from tuitune.ui.context import Frame, watch_frames
from tuitune.ui.records import TrialRow
from tuitune.ui.screens.charting import (
    VAL_PREFIXES,
    markers_for,
    move_cursor,
    reference_series,
    zoom_start,
)
from tuitune.ui.screens.dialogs import PickDialog
from tuitune.ui.screens.hand_actions import HAND_BINDINGS, HandActions
from tuitune.ui.series import better_mode, overfitting
from tuitune.ui.widgets.chart import Chart, ChartData, Series, cursor_steps

LOG_LINES = 200
LOG_POLL_S = 1.0
#: The x ranges `z` steps through: all, then the last half, fifth and tenth of the steps.
ZOOMS: tuple[float | None, ...] = (None, 0.5, 0.2, 0.1)


def metric_pairs(names: list[str], objective: str) -> list[tuple[str, str | None]]:
    """(train, validation) metric pairs, the one holding the objective first."""
    pairs: list[tuple[str, str | None]] = []
    names_set = set(names)
    for n in names:
        for prefix in VAL_PREFIXES:
            if n.startswith(prefix):
                base = n[len(prefix):]
                train = next((c for c in (base, f"train_{base}") if c in names_set), None)
                if train:
                    pairs.append((train, n))
    if not pairs:
        pairs = [(objective, None)]
    pairs.sort(key=lambda p: objective not in p)
    return pairs


class LogRead(Message):
    """New lines of the trial's log (reset: replace what is shown)."""

    def __init__(self, lines: list[str], reset: bool) -> None:
        super().__init__()
        self.lines = lines
        self.reset = reset


class DetailScreen(HandActions, Screen):
    """Everything about one trial."""

    HELP_TITLE = "Trial detail (enter on a trial)"

    BINDINGS = [
        *HAND_BINDINGS,
        Binding("1", "tab('curves')", "Curves", show=False),
        Binding("2", "tab('params')", "Params", show=False),
        Binding("3", "tab('log')", "Log", show=False),
        Binding("4", "tab('history')", "History", show=False),
        Binding("m", "pick_pair", "Metric pair", show=False,
                tooltip="Choose the train/validation pair the curves show"),
        Binding("l", "toggle_log", "Log scale", show=False, tooltip="Curves: log y axis"),
        Binding("w", "toggle_smooth", "Smoothing", show=False, tooltip="Curves: smoothing"),
        Binding("v", "toggle_side", "One axis/side by side", show=False,
                tooltip="Curves: train and validation on one axis, or side by side"),
        # priority: the tab bar would take the arrows; only on the Curves tab
        Binding("left", "cursor(-1)", "Cursor left", show=False, priority=True,
                tooltip="Curves: move the cursor one step back (values read out below)"),
        Binding("right", "cursor(1)", "Cursor right", show=False, priority=True,
                tooltip="Curves: move the cursor one step on"),
        Binding("shift+left", "cursor(-10)", "Cursor 10 left", show=False, priority=True,
                tooltip="Curves: move the cursor ten steps back"),
        Binding("shift+right", "cursor(10)", "Cursor 10 right", show=False, priority=True,
                tooltip="Curves: move the cursor ten steps on"),
        Binding("z", "zoom", "Zoom", show=False,
                tooltip="Curves: x range: all, last half, last fifth, last tenth of the steps"),
        Binding("b,q,escape", "back", "Back", tooltip="Back to the trial table"),
        Binding("question_mark,f1", "app.help", "Help"),
    ]

    def __init__(self, trial_id: int) -> None:
        super().__init__()
        self.trial_id = trial_id
        self.pair: tuple[str, str | None] | None = None
        self.log_y = False
        self.smooth = False
        self.side_by_side = False
        self.cursor: float | None = None  # a step; None until an arrow or click sets it
        self.zoom = 0  # index into ZOOMS
        self._log_stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        with TabbedContent(initial="curves"):
            with TabPane("1 Curves", id="curves"):
                yield Static(id="badge")
                yield Chart(id="pair-chart")
                with Horizontal(id="pair"):
                    yield Chart(id="train-chart")
                    yield Chart(id="val-chart")
            with TabPane("2 Params", id="params"):
                with VerticalScroll():
                    yield Static(id="params-table")
            with TabPane("3 Log", id="log"):
                yield Log(id="log-view", max_lines=5000, auto_scroll=True)
            with TabPane("4 History", id="history"):
                with VerticalScroll():
                    yield Static(id="lineage")
                    yield Static(id="events")
        yield Footer(compact=True)

    _ready = False

    def on_mount(self) -> None:
        self._ready = True
        watch_frames(self, self._draw)
        self.refresh_from_view(set(), full=True)
        self.follow_log()

    def on_unmount(self) -> None:
        self._log_stop.set()
        self.drop_curves()

    def _draw(self, frame: Frame) -> None:
        """What the app's frame says changed (context.Frame)."""
        if frame.polled:
            self.refresh_from_view(set(frame.rows), frame.full)
        if frame.second:
            self.tick()

    def selected_row(self) -> TrialRow | None:
        return self.run.view.rows.get(self.trial_id)

    # -- data --------------------------------------------------------------------------------
    def refresh_from_view(self, changed: set[int], full: bool = False) -> None:
        if not self._ready:
            return
        row = self.selected_row()
        if row is None:
            return
        if self.pair is None or self.pair[0] not in self.run.view.metric_names:
            pairs = metric_pairs(list(self.run.view.metric_names),
                                 self.run.spec.objective.metric)
            if self.pair is None or self.pair not in pairs:
                self.pair = pairs[0]
        self.want_curves({(self.trial_id, m) for m in self.pair if m})
        self._update_curves(row)
        if full or self.trial_id in changed or any(
                r.parent_id == self.trial_id for r in (self.run.view.rows.get(c) for c in changed)
                if r is not None):
            self._update_text(row)

    def tick(self) -> None:
        if not self._ready:
            return
        row = self.selected_row()
        if row is not None:
            self._update_title(row)

    def _update_title(self, row: TrialRow) -> None:
        steps = f"{fmt.value(row.step)}" + (
            f"/{self.run.spec.budget.max_steps}" if self.run.spec.budget.max_steps else "")
        parts = [  # most important first; what does not fit the width is left out
            (f" Trial {row.id} ", palette.BOLD), (row.state, palette.state_style(row.state)),
            (f"  step {steps}", None), (f"  best {fmt.value(row.best)}", palette.GOOD),
            (f"  {row.origin_label}", palette.DIM), (f"  latest {fmt.value(row.latest)}", None),
            (f"  elapsed {fmt.duration(row.elapsed(self.run.clock()), precise=True)}", palette.DIM),
            (f"  note: {fmt.ascii_safe(row.note)}" if row.note else "", palette.WARN),
        ]
        width, used, keep = self.size.width or 80, 0, []
        for i, (text, _) in enumerate(parts):
            if used + len(text) <= width:
                keep.append(i)
                used += len(text)
        t = Text()
        for i in keep:
            t.append(*parts[i])
        self.query_one("#detail-title", Static).update(t)

    def _update_curves(self, row: TrialRow) -> None:
        charts = self._charts(row)
        for chart_id, data in charts.items():
            self.query_one(chart_id, Chart).show(data)
        self._update_badge(row)

    def _charts(self, row: TrialRow) -> dict[str, ChartData]:
        """What each shown chart draws: the pair on one axis, or each on its own."""
        assert self.pair is not None
        train, val = self.pair
        view = self.run.view
        markers = tuple(markers_for(view, row, palette.BOLD))
        curves = {m: view.curves.get((row.id, m)) for m in self.pair if m}
        # validation dashed: on one axis with its training twin it must read apart in
        # a monochrome or ASCII terminal too, not by colour alone
        series = {m: Series(m, palette.SERIES[i], c.steps, c.values,
                            stroke="dashed" if m == val else "solid")
                  for i, (m, c) in enumerate(curves.items()) if c is not None}
        refs = {m: reference_series(self.run.reference, m) for m in series}
        last = max((float(c.steps[-1]) for c in curves.values() if c is not None and len(c)),
                   default=None)
        x_min = zoom_start(last, ZOOMS[self.zoom])
        if self.cursor is not None and x_min is not None and self.cursor < x_min:
            self.cursor = None  # zoomed past it: the next arrow starts at the end

        def chart(title: str, shown: tuple[Series, ...], empty: str) -> ChartData:
            return ChartData(title, shown, markers, self.log_y, self.smooth, None, empty,
                             x_min=x_min, cursor=self.cursor)

        loading = "loading…"
        if not self.side_by_side:
            waiting = any(c is None for c in curves.values())
            title = f"#{row.id}" + ("" if val else f"  (no val_{train} to pair with {train})")
            return {"#pair-chart": chart(title, (*series.values(), *(
                                             r for m in series for r in refs[m])),
                                         loading if waiting else "no points yet")}
        out = {}
        for chart_id, metric in (("#train-chart", train), ("#val-chart", val)):
            if metric is None:
                out[chart_id] = ChartData(f"(no validation metric paired with {train}: "
                                          f"name it val_{train})")
                continue
            shown = (series[metric], *refs[metric]) if metric in series else ()
            out[chart_id] = chart(metric, shown, f"no {metric} points yet"
                                  if curves[metric] is not None else loading)
        return out

    def _update_badge(self, row: TrialRow) -> None:
        assert self.pair is not None
        train, val = self.pair
        badge = self.query_one("#badge", Static)
        if val is None:
            badge.update("")
            return
        tc = self.run.view.curves.get((row.id, train))
        vc = self.run.view.curves.get((row.id, val))
        mode = (self.run.spec.objective.mode if self.run.spec.objective.metric in (train, val)
                else better_mode(val))
        if tc is not None and vc is not None and overfitting((tc.steps, tc.values),
                                                            (vc.steps, vc.values), mode):
            badge.update(Text(f" OVERFITTING: {val} worsens while {train} improves "
                              "(last 5 points) ", palette.BAD + palette.BOLD))
            badge.add_class("shown")
        else:
            badge.update(Text(f" {train} vs {val}  (m other pair · v side by side · "
                              "←→ values at a step · z zoom · l log · w smooth)", palette.DIM))
            badge.remove_class("shown")

    def _update_text(self, row: TrialRow) -> None:
        self._update_title(row)
        self.query_one("#params-table", Static).update(self._params_table(row))
        self.query_one("#lineage", Static).update(self._lineage(row))
        events = Text()
        for e in self.run.view.trial_events(row.id):
            stamp = _clock_text(e.t)
            events.append(f"{stamp}  ", palette.DIM)
            events.append(f"{e.actor:<16.16} ", palette.ACCENT)
            events.append(fmt.ascii_safe(e.message) + "\n")
        self.query_one("#events", Static).update(events or Text("no events", palette.DIM))

    def _params_table(self, row: TrialRow) -> Table:
        """Every parameter as the trial ran it: start → each change @ its step (as `best`
        and `status` show it), and tweaks asked for but not applied yet. Cells are Text:
        a categorical value such as `[/]` is shown, not read as markup."""
        table = Table(box=None, pad_edge=False, expand=False, header_style="bold")
        for col in ("parameter", "type", "now", "ran with (start → value @ step)", "pending"):
            table.add_column(col)
        for p in self.run.spec.space:
            pending = ", ".join(f"{fmt.value(c.value)} ({c.actor})" for c in row.changes
                                if c.name == p.name and c.step is None)
            table.add_row(*(Text(cell) for cell in (
                p.name, p.describe() + (" mutable" if p.mutable else ""),
                fmt.value(row.current.get(p.name)),
                param_values(p.name, row.params.get(p.name), row.changes, fmt.value),
                pending or "-")))
        return table

    def _lineage(self, row: TrialRow) -> Text:
        view = self.run.view
        t = Text("Lineage\n", palette.BOLD)
        for depth, r in enumerate(view.lineage(row.id)):
            how = ""
            if r.parent_id is not None:
                how = (f" ← {r.origin} of #{r.parent_id}"
                       + (f" from its checkpoint at step {r.clone_step}"
                          if r.from_checkpoint and r.clone_step is not None else " from scratch"))
            t.append("  " * depth + f"#{r.id} {r.state} ({r.origin}){how}\n")
        kids = view.children(row.id)
        if kids:
            t.append("Children\n", palette.BOLD)
            for k in kids:
                where = (f"at step {k.clone_step}" if k.clone_step is not None else "from scratch")
                t.append(f"  #{k.id} {k.state} ({k.origin} {where})\n")
        t.append("\nEvents\n", palette.BOLD)
        return t

    # -- log tail --------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="log-tail", exit_on_error=False)
    def follow_log(self) -> None:
        """Read the log's last lines, then new ones as they are written."""
        path = trial_dir(self.run.run_dir, self.trial_id) / "log.txt"
        worker = get_current_worker()
        offset = -1
        partial = b""
        while not worker.is_cancelled and not self._log_stop.is_set():
            offset, partial = self._read_log(path, offset, partial)
            self._log_stop.wait(LOG_POLL_S)

    def _read_log(self, path: Path, offset: int, partial: bytes) -> tuple[int, bytes]:
        try:
            size = os.path.getsize(path)
        except OSError:
            return offset, partial
        if offset < 0 or size < offset:  # first read, or the file was truncated
            text = log_tail(path, LOG_LINES)
            self.post_message(LogRead(text.splitlines(), reset=True))
            return size, b""
        if size == offset:
            return offset, partial
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(1 << 20)
        data = partial + data
        *lines, rest = data.split(b"\n")
        if lines:
            self.post_message(LogRead([ln.decode("utf-8", "replace") for ln in lines], False))
        return offset + len(data) - len(partial), rest

    def on_log_read(self, message: LogRead) -> None:
        log = self.query_one(Log)
        if message.reset:
            log.clear()
        log.write_lines([fmt.ascii_safe(log_line(line)) for line in message.lines])

    # -- actions ---------------------------------------------------------------------------
    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_pick_pair(self) -> None:
        pairs = metric_pairs(list(self.run.view.metric_names), self.run.spec.objective.metric)
        labels = [f"{a} vs {b}" if b else a for a, b in pairs]

        def picked(label: str | None) -> None:
            if label:
                self.pair = pairs[labels.index(label)]
                self.refresh_from_view(set(), full=True)
        current = labels[pairs.index(self.pair)] if self.pair in pairs else None
        self.app.push_screen(PickDialog("Which curves?", labels, current), picked)

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y
        self.refresh_from_view(set())

    def action_toggle_smooth(self) -> None:
        self.smooth = not self.smooth
        self.refresh_from_view(set())

    def action_toggle_side(self) -> None:
        self.side_by_side = not self.side_by_side
        self.set_class(self.side_by_side, "side")
        self.refresh_from_view(set())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cursor":  # the arrows move the cursor on the Curves tab only
            return self.query_one(TabbedContent).active == "curves"
        return True

    def action_cursor(self, by: int) -> None:
        row = self.selected_row()
        if row is None or self.pair is None:
            return
        charts = list(self._charts(row).values())
        steps = cursor_steps(ChartData("", tuple(s for c in charts for s in c.series),
                                       x_min=charts[0].x_min if charts else None))
        self.cursor = move_cursor(steps, self.cursor, by)
        self._update_curves(row)

    def on_chart_clicked(self, message: Chart.Clicked) -> None:
        self.cursor = message.step
        row = self.selected_row()
        if row is not None:
            self._update_curves(row)

    def action_zoom(self) -> None:
        self.zoom = (self.zoom + 1) % len(ZOOMS)
        self.refresh_from_view(set())


def _clock_text(t: float) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(t))
