"""What both apps share: the system sampling loop, the frame the screens watch, help
and the command palette built from the screens' own keys."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from textual.app import SystemCommand
from textual.binding import Binding
from textual.reactive import var
from textual.screen import Screen
from textual.widgets._toast import ToastRack

from tuitune.system import ProcessIdentity
from tuitune.ui import glyphs
from tuitune.ui._textual_patch import install as install_update_patch
from tuitune.ui.context import DescribeProcesses, Frame
from tuitune.ui.key_order import KeysInOrder
from tuitune.ui.messages import ProcessEnded, SystemSampled
from tuitune.ui.screens.help import HelpScreen
from tuitune.ui.sync import Loop, system_loop
from tuitune.ui.system_feed import SystemFeed
from tuitune.ui.view import RunView

HELP_INTRO = ("Arrows move, Enter opens a trial. Hand actions go to the engine as commands "
              "(the same as the CLI's) and land in the event log.")


def literal(text: str) -> str:
    """Text for a place that reads markup (the palette), shown as it is: the `/` key
    would otherwise be the markup `[/]`, and `[K]` a style. (textual.markup.escape
    leaves `[K]` alone.)"""
    return text.replace("[", "\\[")


class BaseApp(KeysInOrder):
    """What both apps share: keys in order, the system loop, help, the command palette."""

    CSS_PATH = "tuitune.tcss"
    TITLE = "tuitune"
    #: Draw in ASCII only (no UTF-8 locale, or `--ascii`): set before the app runs.
    ascii_drawing = False
    BINDINGS = [Binding("question_mark,f1", "help", "Help", show=False)]

    frame: var[Frame | None] = var(None, always_update=True)
    """What changed since the last frame: the one way screens learn of new data
    (they watch it, context.watch_frames)."""

    @property
    def _background_screens(self) -> list[Screen]:
        """The screens that show through the top one: none when the top one is opaque.

        Textual 8 lists the screen below the top one whatever the top one's
        background, and every time that screen changes it repaints the same region
        of the top screen. The run screen keeps drawing while hidden (context.
        watch_frames), so with the insight or a detail screen open every poll
        repainted their unchanged cells: 28 KB/s to the terminal at 200x50 with 16
        reporting trials, against 2.5 KB/s on the run screen itself
        (benchmarks/results/tui.md).
        """
        stack = self._screen_stack
        if stack and stack[-1].styles.background.a == 1:
            return []
        return super()._background_screens

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
        self._toast: tuple[str, bool, dict[str, Any]] | None = None  # due to show

    def on_mount(self) -> None:  # Textual calls the subclasses' on_mount as well
        if self.ascii_drawing:
            glyphs.activate()
            self.notify(glyphs.NOTICE, severity="warning", timeout=10)

    def on_unmount(self) -> None:
        if self.ascii_drawing:
            glyphs.activate(False)

    def start_system(self, roots: Callable[[], dict[int, ProcessIdentity]]) -> None:
        self.system_loop = system_loop(self, self.feed, self._system_interval, roots)
        self.system_loop.start()

    def notify(self, message: str, *, markup: bool = False, **kwargs: Any) -> None:
        """A toast, plain text by default: what it says comes from the run (notes,
        parameter values, the engine's answers), and `[/]` in it must show as typed.

        One at a time and one line, on the footer's line (tuitune.tcss): a new toast
        replaces the one showing ("kill: sent" gives way to the engine's answer), so
        a burst of stars or tweaks never stacks toasts over the chart."""
        if threading.get_ident() != self._thread_id:  # Textual's notify is thread-safe
            self.call_from_thread(self.notify, message, markup=markup, **kwargs)
            return
        first = self._toast is None
        self._toast = (message, markup, kwargs)
        if first:  # a burst within one handler: only its last toast is shown
            self.call_next(self._show_toast)

    def _show_toast(self) -> None:
        if self._toast is None:
            return
        message, markup, kwargs = self._toast
        self._toast = None
        if not self.screen_stack:  # the app is closing: an answer came after its screens
            return
        self.clear_notifications()
        for rack in self.screen.query(ToastRack):  # Textual leaves an empty holder behind
            rack.remove_children()
        # One line: the toast cuts it with an ellipsis (tuitune.tcss); the notification
        # keeps it whole.
        super().notify(" ".join(message.split()), markup=markup, **kwargs)

    def on_system_sampled(self, message: SystemSampled) -> None:
        self.view.system = message.view
        self.system_arrived()

    def system_arrived(self) -> None:
        """A new sample is in the view: draw it (the run app waits for its next frame)."""
        self.frame = Frame(system=self.view.system)

    def on_describe_processes(self, message: DescribeProcesses) -> None:
        self.feed.describe_processes = message.wanted
        if message.wanted and self.system_loop is not None:
            self.system_loop.wake()

    def on_process_ended(self, message: ProcessEnded) -> None:
        self.notify(message.text, severity="information" if "sent" in message.text
                    else "warning")
        if self.system_loop is not None:
            self.system_loop.wake()

    def help_screens(self) -> list[type[Screen]]:
        """The screens whose keys the help lists after the current one's."""
        return []

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen, HELP_INTRO, self.help_screens()))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette lists the keyed actions of the screen, by their description: the
        screen's own, the focused widget's and its containers', and the app's (not those of
        every widget on it: a hidden input's cursor keys are no commands)."""
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        focused = screen.focused
        chain = list(focused.ancestors_with_self) if focused is not None else [screen, self]
        for node in chain:
            for _key, binding in node._bindings:  # noqa: SLF001 - merged bindings map
                if not binding.description or binding.description in seen:
                    continue
                seen.add(binding.description)
                key = literal(f"[{self.get_key_display(binding)}]")
                help_text = (f"{literal(binding.tooltip)}  {key}" if binding.tooltip
                             else f"key: {key}")
                yield SystemCommand(literal(binding.description), help_text,
                                    partial(self._run_bound, node, binding.action))

    def _run_bound(self, node: Any, action: str) -> None:
        self.call_later(self.run_action, action, node)

    def stop_loops(self) -> None:
        if self.system_loop is not None:
            self.system_loop.stop()
