"""The Textual apps: `TuituneApp` (one run) and `MonitorApp` (`tuitune gpu`).

Thin on purpose: they own the background loops and the view, hand the screens
what changed through one typed channel (the `frame` reactive, context.py), and
answer the screens' messages (commands to send, curves to load, rows shown). What the screens show lives in screens/ and widgets/; what the run
is lives in model.py (no Textual). Built by factory.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from pathlib import Path

from textual.binding import Binding
from textual.screen import Screen

from tuitune.client.reference import Reference
from tuitune.core.history import LIVE_STATES
from tuitune.core.spec import Spec
from tuitune.system import ProcessIdentity
from tuitune.ui.alerts import alert_text, sequences
from tuitune.ui.base_app import BaseApp
from tuitune.ui.commanding import Commanding
from tuitune.ui.context import Frame, WantCurves
from tuitune.ui.messages import StorePolled, StorePollFailed
from tuitune.ui.model import RunModel
from tuitune.ui.node_feed import NodeFeed
from tuitune.ui.node_sync import NodesRead, node_loop
from tuitune.ui.screens.gpu_screen import GpuScreen
from tuitune.ui.screens.run_screen import RunScreen
from tuitune.ui.sync import Loop, store_loop
from tuitune.ui.system_feed import SystemFeed
from tuitune.ui.view_memory import load as load_view_settings
from tuitune.ui.view_memory import save as save_view_settings
from tuitune.ui.widgets.trial_table import SORTS, STATE_FILTERS, TrialTable

#: Store polls per second: the sink flushes every 0.2 s, so 0.5 s keeps a report
#: on screen in under a second; a poll that finds nothing repaints nothing.
POLL_INTERVAL_S = 0.5
SYSTEM_INTERVAL_S = 1.0


class TuituneApp(Commanding, BaseApp):
    """One run: its trials, curves, machine, and the hand actions."""

    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", show=False),
        Binding("ctrl+q", "detach", "Detach (trials keep running)", show=False, priority=True),
    ]

    def __init__(self, run_dir: Path, spec: Spec, *, clock: Callable[[], float] = time.time,
                 feed: SystemFeed, poll_interval: float = POLL_INTERVAL_S,
                 system_interval: float = SYSTEM_INTERVAL_S,
                 reference: Reference | None = None) -> None:
        super().__init__(clock, feed, system_interval)
        self.run_dir = Path(run_dir)
        self.spec = spec
        #: Another run's best trial, drawn dotted on the charts (`--reference`).
        self.reference = reference
        self.model = RunModel(self.run_dir, spec, clock)
        self._poll_interval = poll_interval
        self.store_loop: Loop | None = None
        self.node_loop: Loop | None = None
        self._wanted: dict[Hashable, frozenset[tuple[int, str]]] = {}
        self._wanted_union: frozenset[tuple[int, str]] = frozenset()
        self._roots: dict[int, ProcessIdentity] = {}
        self.last_poll_s = 0.0
        self.sub_title = self.run_dir.name
        self._system_pending = False
        self._system_drawn = False
        self._last_frame = 0.0
        self._last_second = 0
        # How the run screen was left at the last detach (sort, filters, chart).
        self.kept_view = load_view_settings(self.run_dir, SORTS, STATE_FILTERS)

    # -- lifecycle ---------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.push_screen(RunScreen(self.kept_view))
        self.store_loop = store_loop(self, self.model, self._poll_interval)
        self.store_loop.start()
        self.start_system(lambda: self._roots)
        if self.spec.executor != "local":  # remote executors publish their nodes
            self.node_loop = node_loop(self, NodeFeed(self.run_dir, self.clock),
                                       self._system_interval)
            self.node_loop.start()
        self.set_interval(1.0, self._fallback_frame)

    def on_unmount(self) -> None:
        self.stop_loops()
        if self._check_client is not None:
            self._check_client.close()

    def stop_loops(self) -> None:
        super().stop_loops()
        for loop in (self.store_loop, self.node_loop):
            if loop is not None:
                loop.stop()

    def system_arrived(self) -> None:
        if self._system_drawn:
            # Drawn with the next store poll (at most half a second later): one repaint
            # for both instead of two, which is most of what the TUI's CPU goes to.
            self._system_pending = True
            return
        # The first sample at once: the panel is not left empty until the next poll,
        # and what the first screen shows does not depend on which loop answered first.
        self._system_drawn = True
        super().system_arrived()

    def on_run_screen_settings_changed(self, message: RunScreen.SettingsChanged) -> None:
        self.kept_view = message.settings
        save_view_settings(self.run_dir, message.settings)  # a few hundred bytes

    def on_nodes_read(self, message: NodesRead) -> None:
        self.view.nodes = message.view
        self._system_pending = True  # drawn with the local sample, in the next frame

    def _frame(self, polled: bool = False, rows: frozenset[int] = frozenset(),
               full: bool = False) -> None:
        """Everything that changed since the last frame, handed to the screens at once."""
        self._last_frame = time.monotonic()
        system = None
        if self._system_pending and self.view.system is not None:
            self._system_pending = False
            system = self.view.system
        second = int(self.clock())
        ticked = second != self._last_second
        self._last_second = second
        if polled or system is not None or ticked:
            self.frame = Frame(polled, rows, full, system, ticked)

    def _fallback_frame(self) -> None:
        """Keep clocks and GPUs moving if the store poller stalls (a locked store)."""
        if time.monotonic() - self._last_frame > 1.5:
            self._frame()

    # -- data from the loops -----------------------------------------------------------------
    def on_store_polled(self, message: StorePolled) -> None:
        with self.batch_update():  # one repaint for everything this poll changed
            self._apply_poll(message)

    def _apply_poll(self, message: StorePolled) -> None:
        self.last_poll_s = message.seconds
        changed = self.view.apply(message.delta)
        if not message.delta.full:
            self._alert(message.delta.events)
        if changed or message.delta.full:
            self._roots = {r.id: ProcessIdentity(r.pid, r.pid_start)
                           for r in self.view.rows.values()
                           if r.state in LIVE_STATES and r.pid and r.pid_start}
        self._frame(polled=True, rows=frozenset(changed), full=message.delta.full)

    def _alert(self, events) -> None:
        """`[notify] bell` / `osc`: tell the terminal about the chosen new events."""
        config = self.spec.notify
        if not (config.bell or config.osc) or self.is_headless or self._driver is None:
            return
        text = alert_text(config, events)
        if text is not None:
            self._driver.write(sequences(config, text))  # as App.bell writes its BEL

    def on_store_poll_failed(self, message: StorePollFailed) -> None:
        self.notify(f"cannot read the run store: {message.error}", severity="error",
                    timeout=5)

    # -- messages from the screens -----------------------------------------------------------
    def on_want_curves(self, message: WantCurves) -> None:
        """A screen's charted curves; the model loads the union of all screens'."""
        if message.keys:
            self._wanted[message.owner] = message.keys
        else:
            self._wanted.pop(message.owner, None)
        union = frozenset().union(*self._wanted.values())
        if union != self._wanted_union:
            self._wanted_union = union
            self.view.forget_curves(union)
            self.model.set_wanted(union)
            if self.store_loop is not None and not union <= set(self.view.curves):
                self.store_loop.wake()

    def on_trial_table_scrolled(self, message: TrialTable.Scrolled) -> None:
        """Rows now on screen: their sparklines are needed."""
        ids = list(message.trial_ids)
        self.model.set_visible(ids)
        if self.store_loop is not None and any(
                (r := self.view.rows.get(t)) is not None and r.spark is None and r.n_points
                for t in ids):
            self.store_loop.wake()

    # -- navigation --------------------------------------------------------------------------
    def help_screens(self) -> list[type[Screen]]:
        from tuitune.ui.screens.detail import DetailScreen
        from tuitune.ui.screens.insight import InsightScreen
        from tuitune.ui.screens.insight_compare import CompareScreen

        return [RunScreen, DetailScreen, GpuScreen, InsightScreen, CompareScreen]

    def action_detach(self) -> None:
        """Quit the TUI only: the supervisor and its trials keep running."""
        self.stop_loops()
        self.exit()

    def action_pop_screen(self) -> None:
        if len(self.screen_stack) > 2:
            self.pop_screen()


class MonitorApp(BaseApp):
    """`tuitune gpu`: the machine's GPUs and host, no experiment."""

    BINDINGS = [Binding("question_mark,f1", "help", "Help", show=False),
                Binding("ctrl+q", "quit", "Quit", show=False, priority=True)]

    def on_mount(self) -> None:
        self.push_screen(GpuScreen(standalone=True))
        self.start_system(dict)

    def on_unmount(self) -> None:
        self.stop_loops()

    async def action_quit(self) -> None:
        self.stop_loops()
        self.exit()

