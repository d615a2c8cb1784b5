"""The Textual apps: `TuituneApp` (one run) and `MonitorApp` (`tuitune gpu`).

Thin on purpose: they own the background loops and the view, route the loops'
messages to the screens, and send hand actions to the engine from worker
threads. What the screens show lives in screens/ and widgets/; what the run
is lives in model.py (no Textual).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen

from tuitune.engine.client import Reply, RunClient
from tuitune.engine.commands import CommandError
from tuitune.history import LIVE_STATES
from tuitune.spec import Spec, load_spec_json
from tuitune.store import RunStore
from tuitune.system import GpuSource, HostSample, ProcessIdentity
from tuitune.ui._textual_patch import install as install_update_patch
from tuitune.ui.messages import (
    CommandAnswered,
    ProcessEnded,
    StorePolled,
    StorePollFailed,
    SystemSampled,
)
from tuitune.ui.model import RunModel
from tuitune.ui.screens.detail import DetailScreen
from tuitune.ui.screens.gpu_screen import GpuScreen
from tuitune.ui.screens.help import HelpScreen
from tuitune.ui.screens.run_screen import RunScreen
from tuitune.ui.sync import Loop, store_loop, system_loop
from tuitune.ui.system_feed import SystemFeed
from tuitune.ui.view import RunView

#: Store polls per second: the sink flushes every 0.2 s, so 0.5 s keeps a report
#: on screen in under a second; a poll that finds nothing repaints nothing.
POLL_INTERVAL_S = 0.5
SYSTEM_INTERVAL_S = 1.0

_HELP_INTRO = ("Arrows move, Enter opens a trial. Hand actions go to the engine as commands "
               "(the same as the CLI's) and land in the event log.")


class _Base(App[None]):
    CSS_PATH = "tuitune.tcss"
    TITLE = "tuitune"
    BINDINGS = [Binding("question_mark,f1", "help", "Help", show=False)]

    def __init__(self, clock: Callable[[], float], feed: SystemFeed,
                 system_interval: float) -> None:
        install_update_patch()
        super().__init__()
        self.clock = clock
        self.feed = feed
        self.view = RunView()
        self._system_interval = system_interval
        self.system_loop: Loop | None = None
        self.animation_level = "none"  # nothing moves unless data moved

    def start_system(self, roots: Callable[[], dict[int, ProcessIdentity]]) -> None:
        self.system_loop = system_loop(self, self.feed, self._system_interval, roots)
        self.system_loop.start()

    def each_screen(self, method: str, *args: Any) -> None:
        """Call `method` on every screen in the stack that has it (hidden ones too,
        so they are current when they come back)."""
        for screen in list(self.screen_stack):
            fn = getattr(screen, method, None)
            if fn is None:
                continue
            try:
                fn(*args)
            except NoMatches:  # a screen being composed or torn down
                pass

    def on_system_sampled(self, message: SystemSampled) -> None:
        self.view.system = message.view
        self.system_arrived()

    def system_arrived(self) -> None:
        """A new sample is in the view: draw it (the run app waits for its next frame)."""
        self.each_screen("refresh_system", self.view.system)

    def on_process_ended(self, message: ProcessEnded) -> None:
        self.notify(message.text, severity="information" if "sent" in message.text
                    else "warning")
        if self.system_loop is not None:
            self.system_loop.wake()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen, _HELP_INTRO))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette lists every keyed action of the screen, by its description."""
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        for node in (screen, *screen.query("*")):
            for _key, binding in node._bindings:  # noqa: SLF001 - merged bindings map
                if not binding.description or binding.description in seen:
                    continue
                seen.add(binding.description)
                key = self.get_key_display(binding)
                help_text = f"{binding.tooltip}  [{key}]" if binding.tooltip else f"key: {key}"
                yield SystemCommand(binding.description, help_text,
                                    partial(self._run_bound, node, binding.action))

    def _run_bound(self, node: Any, action: str) -> None:
        self.call_later(self.run_action, action, node)

    def stop_loops(self) -> None:
        if self.system_loop is not None:
            self.system_loop.stop()


class TuituneApp(_Base):
    """One run: its trials, curves, machine, and the hand actions."""

    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", show=False),
        Binding("ctrl+q", "detach", "Detach (trials keep running)", show=False, priority=True),
    ]

    def __init__(self, run_dir: Path, spec: Spec, *, clock: Callable[[], float] = time.time,
                 feed: SystemFeed, poll_interval: float = POLL_INTERVAL_S,
                 system_interval: float = SYSTEM_INTERVAL_S) -> None:
        super().__init__(clock, feed, system_interval)
        self.run_dir = Path(run_dir)
        self.spec = spec
        self.model = RunModel(self.run_dir, spec, clock)
        self._poll_interval = poll_interval
        self.store_loop: Loop | None = None
        self._wanted: dict[int, set[tuple[int, str]]] = {}
        self._wanted_union: frozenset[tuple[int, str]] = frozenset()
        self._roots: dict[int, ProcessIdentity] = {}
        self._check_client: RunClient | None = None
        self.last_poll_s = 0.0
        self.sub_title = self.run_dir.name
        self._system_pending = False
        self._last_frame = 0.0
        self._last_second = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.push_screen(RunScreen())
        self.store_loop = store_loop(self, self.model, self._poll_interval)
        self.store_loop.start()
        self.start_system(lambda: self._roots)
        self.set_interval(1.0, self._fallback_frame)

    def on_unmount(self) -> None:
        self.stop_loops()
        if self._check_client is not None:
            self._check_client.close()

    def stop_loops(self) -> None:
        super().stop_loops()
        if self.store_loop is not None:
            self.store_loop.stop()

    def system_arrived(self) -> None:
        # Drawn with the next store poll (at most half a second later): one repaint
        # for both instead of two, which is most of what the TUI's CPU goes to.
        self._system_pending = True

    def _frame(self) -> None:
        """Everything that changed since the last frame, painted together."""
        self._last_frame = time.monotonic()
        if self._system_pending and self.view.system is not None:
            self._system_pending = False
            self.each_screen("refresh_system", self.view.system)
        second = int(self.clock())
        if second != self._last_second:
            self._last_second = second
            self.each_screen("tick")

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
        if changed or message.delta.full:
            self._roots = {r.id: ProcessIdentity(r.pid, r.pid_start)
                           for r in self.view.rows.values()
                           if r.state in LIVE_STATES and r.pid and r.pid_start}
        self.each_screen("refresh_from_view", changed, message.delta.full)
        self._frame()

    def on_store_poll_failed(self, message: StorePollFailed) -> None:
        self.notify(f"cannot read the run store: {message.error}", severity="error",
                    timeout=5)

    def want_curves(self, owner: object, keys: set[tuple[int, str]]) -> None:
        """A screen's charted curves; the model loads the union of all screens'."""
        self._wanted[id(owner)] = set(keys)
        union = frozenset().union(*self._wanted.values())
        if union != self._wanted_union:
            self._wanted_union = union
            self.view.forget_curves(union)
            self.model.set_wanted(union)
            if self.store_loop is not None and not union <= set(self.view.curves):
                self.store_loop.wake()

    def show_rows(self, trial_ids: Iterable[int]) -> None:
        """Rows now on screen: their sparklines are needed."""
        ids = list(trial_ids)
        self.model.set_visible(ids)
        if self.store_loop is not None and any(
                (r := self.view.rows.get(t)) is not None and r.spark is None and r.n_points
                for t in ids):
            self.store_loop.wake()

    # -- commands ----------------------------------------------------------------------------
    def check_command(self, kind: str, args: dict[str, Any]) -> str | None:
        """The engine's validation of a command, as an error line (None if valid)."""
        if self._check_client is None:
            self._check_client = RunClient(self.run_dir)
        try:
            self._check_client.check(kind, args)
        except CommandError as exc:
            return str(exc)
        return None

    def send_command(self, kind: str, args: dict[str, Any]) -> None:
        """Send from a worker thread: the supervisor may take seconds to answer."""
        self.notify(f"{kind}: sent", timeout=1.5)
        self.run_worker(partial(self._send, kind, args), name=f"send-{kind}", group="commands",
                        thread=True, exit_on_error=False)

    def _send(self, kind: str, args: dict[str, Any]) -> None:
        try:
            client = RunClient(self.run_dir)
        except Exception as exc:
            self.post_message(CommandAnswered(kind, args, Reply("error", str(exc), 0)))
            return
        try:
            reply = client.send(kind, args)
        except CommandError as exc:
            reply = Reply("rejected", str(exc), 0)
        except Exception as exc:  # a store error must reach the user, not kill the app
            reply = Reply("error", f"{type(exc).__name__}: {exc}", 0)
        finally:
            client.close()
        self.post_message(CommandAnswered(kind, args, reply))

    def on_command_answered(self, message: CommandAnswered) -> None:
        reply = message.reply
        if reply.status == "done":
            self.notify(reply.message or f"{message.kind}: done")
        elif reply.status in ("queued", "pending"):
            self.notify(reply.message, severity="warning", timeout=6)
        else:
            self.notify(f"{message.kind} refused: {reply.message}", severity="error",
                        timeout=8)
        if self.store_loop is not None:
            self.store_loop.wake()

    # -- navigation --------------------------------------------------------------------------
    def open_trial(self, trial_id: int) -> None:
        self.push_screen(DetailScreen(trial_id))

    def open_gpus(self) -> None:
        self.push_screen(GpuScreen(standalone=False))

    def action_detach(self) -> None:
        """Quit the TUI only: the supervisor and its trials keep running."""
        self.stop_loops()
        self.exit()

    def action_pop_screen(self) -> None:
        if len(self.screen_stack) > 2:
            self.pop_screen()


class MonitorApp(_Base):
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


def load_run_spec(run_dir: Path) -> Spec:
    store = RunStore(run_dir)
    try:
        return load_spec_json(store.meta()["spec"])
    finally:
        store.close()


def build_app(run_dir: Path, *, clock: Callable[[], float] = time.time,
              gpu_source: GpuSource | None = None, host: Callable[[], HostSample] | None = None,
              steady: bool = False, poll_interval: float = POLL_INTERVAL_S,
              system_interval: float = SYSTEM_INTERVAL_S) -> TuituneApp:
    """The app `run_tui` runs; tests and snapshots build theirs here too."""
    if gpu_source is None:
        from tuitune.system.gpu import NvmlGpuSource

        gpu_source = NvmlGpuSource()
    feed = SystemFeed(gpu_source, clock=clock, host=host, steady=steady)
    return TuituneApp(Path(run_dir), load_run_spec(Path(run_dir)), clock=clock, feed=feed,
                      poll_interval=poll_interval, system_interval=system_interval)


def build_monitor(*, clock: Callable[[], float] = time.time,
                  gpu_source: GpuSource | None = None,
                  host: Callable[[], HostSample] | None = None, steady: bool = False,
                  system_interval: float = SYSTEM_INTERVAL_S) -> MonitorApp:
    if gpu_source is None:
        from tuitune.system.gpu import NvmlGpuSource

        gpu_source = NvmlGpuSource()
    feed = SystemFeed(gpu_source, clock=clock, host=host, steady=steady)
    return MonitorApp(clock, feed, system_interval)


def iter_screens(app: App) -> Iterator[Screen]:
    yield from app.screen_stack
