"""What a screen may know of the app: attributes down, messages up.

Screens never import the app. They read the run through `RunContext` (or the
machine through `SystemContext`), are told what changed through one typed
channel, the app's `frame` reactive (`watch_frames`), and ask for things by
posting the messages below, which bubble from the screen to the app.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

from textual.dom import DOMNode
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen

from tuitune.client.reference import Reference
from tuitune.core.spec import Spec
from tuitune.ui.system_feed import SystemView
from tuitune.ui.view import RunView


@dataclass(frozen=True)
class Frame:
    """What changed since the last frame; the data itself is in the view.

    Attributes:
        polled: a store poll arrived (the header, curves and events may have changed).
        rows: ids of the trials whose rows changed.
        full: every row was replaced (the first poll).
        system: a machine sample to draw (None: no new one).
        second: the clock passed a second (elapsed times move).
    """

    polled: bool = False
    rows: frozenset[int] = frozenset()
    full: bool = False
    system: SystemView | None = None
    second: bool = False


@runtime_checkable
class SystemContext(Protocol):
    """What a screen of the machine (the GPU screen) reads from its app."""

    @property
    def view(self) -> RunView: ...


@runtime_checkable
class RunContext(SystemContext, Protocol):
    """What the screens of a run read from the app. Queries only: actions are messages."""

    @property
    def spec(self) -> Spec: ...
    @property
    def run_dir(self) -> Path: ...
    @property
    def clock(self) -> Callable[[], float]: ...

    @property
    def reference(self) -> Reference | None:
        """Another run's best trial, drawn dotted on the charts (`--reference`)."""

    def check_command(self, kind: str, args: dict[str, Any]) -> str | None:
        """The engine's validation of a command, as an error line (None if valid)."""

    def refusal(self, kind: str, trial_id: int, from_checkpoint: bool = False) -> str | None:
        """Why the engine would refuse `kind` on the trial in its state now."""

    def command_from_line(self, kind: str, line: str) -> dict[str, Any] | str:
        """A command's arguments from its CLI form typed on one line, or an error line."""

    def run_meta(self, keys: list[str]) -> dict[str, Any]:
        """Values from the run's meta (space revisions, the budget in effect)."""


class OnRun:
    """Mixin for the screens of a run: `self.run` is the app seen as a `RunContext`."""

    _curves_wanted: frozenset[tuple[int, str]] | None = None

    @property
    def run(self) -> RunContext:
        return cast(RunContext, cast(Screen, self).app)

    def want_curves(self, keys: set[tuple[int, str]]) -> None:
        """Tell the app which curves this screen charts now; said only when that changes
        (a message per poll would keep the screen's queue busy while keys settle)."""
        wanted = frozenset(keys)
        if wanted != self._curves_wanted:
            self._curves_wanted = wanted
            cast(Screen, self).post_message(WantCurves(id(self), set(wanted)))

    def drop_curves(self) -> None:
        """The screen is closing: its curves are no longer needed (told to the app
        directly, since the screen's own queue is closing)."""
        cast(Screen, self).app.post_message(WantCurves(id(self), set()))


def watch_frames(node: DOMNode, draw: Callable[[Frame], None]) -> None:
    """Call `draw` with every frame the app sets, for as long as `node` (a screen or a widget)
    lives (hidden screens too, so they are current when they come back)."""
    def changed(frame: Frame | None) -> None:
        if frame is not None:
            try:
                draw(frame)
            except NoMatches:  # a screen being composed or torn down
                pass
    node.watch(node.app, "frame", changed, init=False)


# -- messages up -----------------------------------------------------------------------------
class SendCommand(Message):
    """Send this engine command (the same the CLI sends); the app shows the answer."""

    def __init__(self, kind: str, args: dict[str, Any]) -> None:
        super().__init__()
        self.kind = kind
        self.args = args


class WantCurves(Message):
    """The curves a screen charts now (an empty set: none); the model loads the union."""

    def __init__(self, owner: Hashable, keys: set[tuple[int, str]]) -> None:
        super().__init__()
        self.owner = owner
        self.keys = frozenset(keys)


class DescribeProcesses(Message):
    """Whether the machine sampler should name GPU processes' trees (the GPU screen)."""

    def __init__(self, wanted: bool) -> None:
        super().__init__()
        self.wanted = wanted
